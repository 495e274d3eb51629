"""Round trip for the Llama-family architectures: a checkpoint the engine writes after training loads in Hugging Face
transformers as the same class, with every key used, and computes the engine's logits.

Run (from the repo root):  XDG_RUNTIME_DIR=/tmp/xdg /work/venv-hf/bin/python tools/check_families_load.py
It runs `npx tsx scripts/families-checkpoints.ts --out TMP` (2 AdamW steps on each test/fixtures/families model,
saved by saveCheckpoint), then for each folder: AutoModelForCausalLM.from_pretrained(folder) class (must equal the
source's), missing/unexpected keys (none), and transformers' float64 logits on reference.safetensors's ids vs the
engine's (engine-logits.safetensors): relative L2. Prints one line per family; the output is committed as
test/fixtures/families/transformers-load.txt. Exit 0 when every check passes.
"""
import json
import os
import subprocess
import sys
import tempfile

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
import torch  # noqa: E402
import transformers  # noqa: E402
from safetensors.torch import load_file  # noqa: E402

transformers.utils.logging.disable_progress_bar()

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FAMILIES = ["qwen2", "qwen3", "llama3", "llama-bias"]


def main():
    ok = True
    print(f"transformers {transformers.__version__}, torch {torch.__version__}")
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run(["npx", "tsx", "scripts/families-checkpoints.ts", "--out", tmp], cwd=REPO, check=True,
                       stdout=subprocess.DEVNULL)
        for name in FAMILIES:
            src = os.path.join(REPO, "test", "fixtures", "families", name)
            out = os.path.join(tmp, name)
            want = json.load(open(os.path.join(src, "config.json")))["architectures"][0]
            model, info = transformers.AutoModelForCausalLM.from_pretrained(out, output_loading_info=True,
                                                                             dtype=torch.float32)
            cls = type(model).__name__
            keys = {k: v for k, v in info.items() if v}
            ids = load_file(os.path.join(src, "reference.safetensors"))["ids"].long()
            engine = load_file(os.path.join(out, "engine-logits.safetensors"))["logits"].double()
            with torch.no_grad():
                hf = model.double()(ids[None]).logits[0]
            rel = float((hf - engine).norm() / hf.norm())
            moved = float((hf - load_file(os.path.join(src, "reference.safetensors"))["logits"].double()).norm()
                          / hf.norm())
            good = cls == want and not keys and rel <= 1e-5
            ok &= good
            print(f"{name:10s} {'PASS' if good else 'FAIL'}: loads as {cls} (source {want}), "
                  f"loading info {keys or 'clean'}, logits rel L2 vs engine {rel:.2e} "
                  f"(training moved them {moved:.2e} from the source's)")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
