"""Checkpoints a transformers/TRL user can use as they are: chat_template, pad_token and dtype written by the engine.

Run (from the repo root):  XDG_RUNTIME_DIR=/tmp/xdg /work/venv-hf/bin/python tools/check_chat_checkpoint.py
It runs `npx tsx scripts/chat-checkpoints.ts --out TMP` (saveCheckpoint of stories260K, GPT-2 and a Qwen3 model with
the Qwen3 tokenizer files, each with engine-chat.json: the engine's rendering and ids of a few conversations), then
for each checkpoint folder: AutoTokenizer.from_pretrained(folder).apply_chat_template(...) text, ids and (templates
with {% generation %}) assistant masks vs the engine's; the generation prompt (add_generation_prompt=True); a padded
batch tokenizer(texts, padding=True); AutoModelForCausalLM.from_pretrained(folder, dtype="auto").dtype vs
config.json's dtype. Writes test/fixtures/chat-checkpoint.json (test/sft/chat-checkpoint.test.ts checks that the
engine still writes the same files and renders the same texts) and prints one line per model. Exit 0 when the texts,
the generation prompt, padding and dtype all agree (ids are reported, not required: see the fixture's counts).
"""
import json
import os
import subprocess
import sys
import tempfile

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
import torch  # noqa: E402
from transformers import AutoModelForCausalLM, AutoTokenizer  # noqa: E402

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(REPO, "test/fixtures/chat-checkpoint.json")
PAD_TEXTS = ["Hi", "A somewhat longer sentence, to pad the first."]


def check(folder):
    engine = json.load(open(os.path.join(folder, "engine-chat.json")))
    tok = AutoTokenizer.from_pretrained(folder)
    tagged = "{% generation %}" in tok.chat_template
    texts, ids, masks = [], [], []
    for messages in engine["conversations"]:
        texts.append(tok.apply_chat_template(messages, tokenize=False))
        enc = tok.apply_chat_template(messages, return_dict=True, return_assistant_tokens_mask=tagged)
        ids.append(list(enc["input_ids"]))
        masks.append(list(enc["assistant_masks"]) if tagged else None)
    gen = engine["generationMessages"]
    generation = {"text": tok.apply_chat_template(gen, tokenize=False, add_generation_prompt=True),
                  "ids": list(tok.apply_chat_template(gen, add_generation_prompt=True, return_dict=True)["input_ids"])}
    batch = tok(PAD_TEXTS, padding=True)
    lengths = [len(tok(t)["input_ids"]) for t in PAD_TEXTS]
    n = max(lengths)
    padded_ok = all(len(r) == n for r in batch["input_ids"]) and all(
        m == [1] * k + [0] * (n - k) and r[k:] == [tok.pad_token_id] * (n - k)
        for r, m, k in zip(batch["input_ids"], batch["attention_mask"], lengths))
    config = json.load(open(os.path.join(folder, "config.json")))
    model = AutoModelForCausalLM.from_pretrained(folder, dtype="auto")
    loaded = str(model.dtype).replace("torch.", "")
    e = engine["examples"]
    result = {
        "tokenizer_config": json.load(open(os.path.join(folder, "tokenizer_config.json"))),
        "config_dtype": config.get("dtype"),
        "loaded_dtype": loaded,
        "tokenizer_class": type(tok).__name__,
        "texts": texts,
        "ids": ids,
        "masks": masks,
        "generation": generation,
        "padding": {"texts": PAD_TEXTS, "pad_token": tok.pad_token, "pad_token_id": tok.pad_token_id,
                    "input_ids": batch["input_ids"], "attention_mask": batch["attention_mask"], "ok": padded_ok},
        "texts_equal": sum(a == b for a, b in zip(texts, engine["texts"])),
        "ids_equal": sum(a == b["ids"] for a, b in zip(ids, e)),
        "masks_equal": sum(a == b["mask"] for a, b in zip(masks, e)) if tagged else None,
        "generation_equal": generation == engine["generation"],
    }
    ok = (result["texts_equal"] == len(texts) and result["generation_equal"] and padded_ok
          and loaded == config.get("dtype"))
    return result, ok


def main():
    out = {}
    ok_all = True
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run(["npx", "tsx", "scripts/chat-checkpoints.ts", "--out", tmp], cwd=REPO, check=True,
                       stdout=subprocess.DEVNULL)
        for name in sorted(os.listdir(tmp)):
            result, ok = check(os.path.join(tmp, name))
            out[name] = result
            ok_all &= ok
            n = len(result["texts"])
            print(f"{name}: {result['tokenizer_class']}, texts {result['texts_equal']}/{n}, ids {result['ids_equal']}/{n}, "
                  f"masks {result['masks_equal']}/{n if result['masks'][0] is not None else 0}, generation prompt "
                  f"{'equal' if result['generation_equal'] else 'DIFFERENT'}, padding={'ok' if result['padding']['ok'] else 'FAILED'} "
                  f"(pad {result['padding']['pad_token']!r}), dtype {result['config_dtype']} -> loaded {result['loaded_dtype']}"
                  f"  {'ok' if ok else 'FAIL'}")
    with open(OUT, "w") as fh:
        json.dump(out, fh, ensure_ascii=False, separators=(",", ":"))
        fh.write("\n")
    print("wrote", OUT, os.path.getsize(OUT), "bytes")
    return 0 if ok_all else 1


if __name__ == "__main__":
    sys.exit(main())
