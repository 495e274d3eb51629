"""Acceptance check: a model folder written by webgpu-sft loads in Hugging Face transformers from the folder alone
and computes what the engine computes.

Usage (in the venv of tools/README.md, from the repo root):
  python tools/check_transformers_load.py FOLDER [--text T ...] [--logits FILE] [--source SRC]
With no --logits, runs `npx tsx scripts/dump-logits.ts` on FOLDER and the texts to get the engine's ids and logits.
Checks: architecture class, no missing/unexpected/mismatched keys, tied head, float32; every config.json field as
transformers reads it (and, with --source or training_args.json, every source config field carried over); the
AutoTokenizer ids equal the engine's; logits (float32 and float64) against the engine's: max abs and relative L2.
Exit 0 when every check passes, 1 otherwise.
"""

import argparse
import json
import math
import os
import subprocess
import sys
import tempfile

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")

import torch  # noqa: E402
import transformers  # noqa: E402
from safetensors import safe_open  # noqa: E402
from transformers import (  # noqa: E402
    AutoConfig,
    AutoModelForCausalLM,
    AutoModelForSequenceClassification,
    AutoTokenizer,
)

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEFAULT_TEXTS = [
    "ROMEO:\nBut soft, what light through yonder window breaks?",
    "Once upon a time, there was a little girl named Lily. She liked to play.",
    "Instruction: Describe a process of making crepes.\nResponse:",
]

failures = []


def check(ok, what):
    print(("ok   " if ok else "FAIL ") + what)
    if not ok:
        failures.append(what)
    return ok


def same_value(a, b):
    """JSON-level equality; numbers compare as floats (1e-05 vs 0.00001, 0 vs 0.0)."""
    if isinstance(a, bool) or isinstance(b, bool):
        return a is b or a == b and type(a) is type(b)
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return float(a) == float(b)
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(same_value(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return len(a) == len(b) and all(same_value(x, y) for x, y in zip(a, b))
    return a == b


def hf_config_value(hf, key):
    """The value transformers holds for a config.json key; None marks a key it does not keep."""
    if key == "torch_dtype":
        return str(hf.get("dtype", hf.get("torch_dtype"))).replace("torch.", "")
    if key == "rope_theta" and "rope_theta" not in hf:
        return (hf.get("rope_parameters") or {}).get("rope_theta")
    if key == "id2label" and isinstance(hf.get(key), dict):
        return {str(k): v for k, v in hf[key].items()}
    return hf.get(key)


def check_config(folder, source):
    raw = json.load(open(os.path.join(folder, "config.json")))
    cfg = AutoConfig.from_pretrained(folder, local_files_only=True)
    hf = cfg.to_dict()
    hf["num_labels"] = cfg.num_labels
    dropped = [k for k in raw if not same_value(raw[k], hf_config_value(hf, k))]
    check(not dropped, f"config: all {len(raw)} config.json fields read back by {type(cfg).__name__}"
          + (f"; differ: {', '.join(f'{k}={raw[k]!r}->{hf_config_value(hf, k)!r}' for k in dropped)}" if dropped else ""))
    if source:
        src = json.load(open(os.path.join(source, "config.json")))
        lost = [k for k in src if k != "architectures" and not same_value(src[k], raw.get(k))]
        check(not lost, f"config: every field of {source}/config.json carried over" + (f"; lost/changed: {lost}" if lost else ""))
    arch = raw.get("architectures", [None])[0]
    if arch and arch.endswith("ForSequenceClassification"):
        id2label, label2id = raw.get("id2label"), raw.get("label2id")
        ok = isinstance(id2label, dict) and isinstance(label2id, dict) and cfg.num_labels == len(id2label) \
            and all(label2id.get(name) == int(i) for i, name in id2label.items())
        check(ok, f"config: id2label/label2id consistent, num_labels {cfg.num_labels}")
        check(cfg.pad_token_id is not None, f"config: pad_token_id {cfg.pad_token_id} (needed for batches > 1)")
    return raw, cfg, arch


def check_weights(folder, arch, cfg):
    auto = AutoModelForSequenceClassification if arch.endswith("ForSequenceClassification") else AutoModelForCausalLM
    model, info = auto.from_pretrained(folder, output_loading_info=True, local_files_only=True)
    check(type(model).__name__ == arch, f"weights: {auto.__name__} gave {type(model).__name__}, architectures says {arch}")
    for kind in ("missing_keys", "unexpected_keys", "mismatched_keys", "error_msgs"):
        check(not info.get(kind), f"weights: {kind} {sorted(info.get(kind) or [])}")
    with safe_open(os.path.join(folder, "model.safetensors"), "pt") as f:
        file_keys = set(f.keys())
        dtypes = {str(f.get_slice(k).get_dtype()) for k in file_keys}
        meta = f.metadata() or {}
    state = set(model.state_dict().keys())
    not_in_file = sorted(state - file_keys)
    check(dtypes == {"F32"} and meta.get("format") == "pt", f"weights: {len(file_keys)} tensors, dtypes {sorted(dtypes)}, metadata format {meta.get('format')!r}")
    check(next(model.parameters()).dtype == torch.float32, f"weights: loaded as {next(model.parameters()).dtype}")
    head = model.get_output_embeddings() if hasattr(model, "get_output_embeddings") else None
    if head is not None and not arch.endswith("ForSequenceClassification"):
        tied = head.weight.data_ptr() == model.get_input_embeddings().weight.data_ptr()
        expect = bool(cfg.tie_word_embeddings)
        check(tied == expect and all(k.endswith("lm_head.weight") for k in not_in_file) and (tied or not not_in_file),
              f"weights: lm_head tied {tied} (tie_word_embeddings {expect}), state-dict keys not in the file: {not_in_file}")
    else:
        check(not not_in_file, f"weights: state-dict keys not in the file: {not_in_file}")
    return model.eval()


def check_tokenizer(folder, texts, engine_ids):
    try:
        tok = AutoTokenizer.from_pretrained(folder, local_files_only=True)
    except Exception as e:  # a folder whose tokenizer files transformers cannot read
        check(False, f"tokenizer: AutoTokenizer failed: {e!r:.300}")
        return None
    print(f"     tokenizer: {type(tok).__name__}, bos {tok.bos_token!r} eos {tok.eos_token!r} pad {tok.pad_token!r}")
    for text, ids in zip(texts, engine_ids):
        # The engine's ids are what its model reads (BOS first where add_bos_token says so): tok(text) must give them.
        default = tok(text)["input_ids"]
        check(default == ids, f"tokenizer: {len(ids)} ids equal for {text[:40]!r}"
              + ("" if default == ids else f"; engine {ids}, transformers {default}"))
        plain = tok(text, add_special_tokens=False)["input_ids"]
        if tok.decode(plain) != text:  # a note, not a failure: decoding conventions differ between libraries
            print(f"     note: transformers decodes the ids to {tok.decode(plain)[:60]!r}")
    return tok


def compare(name, got, ref, max_abs_tol, rel_tol):
    diff = (got - ref).abs()
    max_abs = diff.max().item()
    rel = (torch.linalg.vector_norm(got - ref) / torch.linalg.vector_norm(ref)).item()
    check(max_abs <= max_abs_tol and rel <= rel_tol and math.isfinite(rel),
          f"logits {name}: max abs {max_abs:.3e} (≤ {max_abs_tol:g}), rel L2 {rel:.3e} (≤ {rel_tol:g})")


def check_logits(model, arch, logits_file, tok, max_abs_tol, rel_tol):
    with safe_open(logits_file, "pt") as f:
        engine = f.get_tensor("logits").double()
        meta = f.metadata()
    rows = json.loads(meta["ids"])
    pad = int(meta["pad_token_id"])
    T = max(len(r) for r in rows)
    ids = torch.tensor([r + [pad] * (T - len(r)) for r in rows])
    mask = torch.tensor([[1] * len(r) + [0] * (T - len(r)) for r in rows])
    classifier = arch.endswith("ForSequenceClassification")
    for dtype in (torch.float32, torch.float64):
        m = model.to(dtype)
        with torch.no_grad():
            out = m(input_ids=ids, attention_mask=mask).logits.double()
        if classifier:
            got, ref = engine, out
        else:  # padded positions are not compared
            got = torch.cat([engine[b, : len(r)] for b, r in enumerate(rows)])
            ref = torch.cat([out[b, : len(r)] for b, r in enumerate(rows)])
        compare(f"vs transformers {str(dtype).replace('torch.', '')} {tuple(engine.shape)}", got, ref, max_abs_tol, rel_tol)
        same = (got.argmax(-1) == ref.argmax(-1)).float().mean().item()
        print(f"     argmax agreement {same * 100:.1f}% over {got.shape[0]} rows")
    model.to(torch.float32)
    if classifier and tok is not None:  # the user's path: transformers pads the batch and finds the last tokens
        if check(tok.pad_token is not None, f"tokenizer: pad token {tok.pad_token!r} for batches"):
            batch = tok(json.loads(meta["texts"]), padding=True, return_tensors="pt")
            with torch.no_grad():
                out = model(**batch).logits.double()
            compare(f"end to end (tokenizer, padding {tok.padding_side}) {tuple(out.shape)}", engine, out, max_abs_tol, rel_tol)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("folder")
    p.add_argument("--text", action="append", help="sample text (repeatable); default: three built-in texts")
    p.add_argument("--logits", help="engine output of scripts/dump-logits.ts (default: run it now)")
    p.add_argument("--source", help="model folder the checkpoint was trained from (default: training_args.json 'model')")
    p.add_argument("--max-abs", type=float, default=1e-3)
    p.add_argument("--rel-l2", type=float, default=1e-4)
    a = p.parse_args()
    folder = os.path.abspath(a.folder)
    print(f"{folder}: transformers {transformers.__version__}, torch {torch.__version__}")
    source = a.source
    args_file = os.path.join(folder, "training_args.json")
    if source is None and os.path.exists(args_file):
        model_arg = json.load(open(args_file)).get("model")
        source = model_arg if model_arg is None or os.path.isabs(model_arg) else os.path.join(REPO, model_arg)
    raw, cfg, arch = check_config(folder, source)
    model = check_weights(folder, arch, cfg)

    logits_file = a.logits
    if logits_file is None:
        texts = a.text or DEFAULT_TEXTS
        logits_file = os.path.join(tempfile.mkdtemp(), "engine-logits.safetensors")
        cmd = ["npx", "tsx", "scripts/dump-logits.ts", "--model", folder, "--out", logits_file]
        for t in texts:
            cmd += ["--text", t]
        subprocess.run(cmd, cwd=REPO, check=True)
    with safe_open(logits_file, "pt") as f:
        meta = f.metadata()
    tok = check_tokenizer(folder, json.loads(meta["texts"]), json.loads(meta["ids"]))
    check_logits(model, arch, logits_file, tok, a.max_abs, a.rel_l2)
    print(f"{folder}: {'OK' if not failures else f'{len(failures)} check(s) failed'}")
    return 0 if not failures else 1


if __name__ == "__main__":
    sys.exit(main())
