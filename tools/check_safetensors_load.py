#!/usr/bin/python3
"""Check that a safetensors file (e.g. one written by the webgpu-sft engine) loads in the reference code.

Run:  /usr/bin/python3 tools/check_safetensors_load.py FILE [--model gpt2|llama] [--config CONFIG.json]
                                                     [--compare OTHER.safetensors] [--ids 1,2,3]
  --model    architecture; default: guessed from the tensor names (`model.layers.` -> llama, else gpt2)
  --config   HF config.json; default: config.json next to FILE, else the first of the repo's assets whose
             config matches the file's shapes (gpt2: assets/gpt2-shakespeare, assets/hf-fixtures/tiny_gpt2;
             llama: assets/stories260K-hf)
  --compare  also report the per-tensor max |a-b| / max(|a|,|b|) against another file with the same names
  --ids      token ids for the forward (default: deterministic RandomState(0) ids, BOS-first for llama, length 16)
Checks: header parses (8-byte LE length, JSON, offsets contiguous and inside the file), every expected name
present with the config's shape (GPT-2: with or without `transformer.`; an extra tied `lm_head.weight` is accepted
and must equal the embedding), no unexpected names, dtypes F32/F16/BF16/F64, all values finite; then runs one
float64 forward and prints the logits' shape, the next-token loss and the argmax ids. Exit 0 = OK, 1 = failed.
"""
import argparse
import json
import os
import struct
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import ref_models as R  # noqa: E402
import st  # noqa: E402

ASSETS = {"gpt2": ["assets/gpt2-shakespeare", "assets/hf-fixtures/tiny_gpt2"], "llama": ["assets/stories260K-hf"]}


def fail(msg):
    print("FAIL:", msg)
    sys.exit(1)


def check_header(path):
    size = os.path.getsize(path)
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        if n > size - 8:
            fail(f"header length {n} exceeds file size {size}")
        header = json.loads(f.read(n).decode("utf-8"))
    meta = header.pop("__metadata__", None)
    spans = sorted((v["data_offsets"][0], v["data_offsets"][1], k) for k, v in header.items())
    pos = 0
    for b, e, k in spans:
        if b != pos:
            fail(f"tensor {k}: data starts at {b}, expected {pos} (gap or overlap)")
        pos = e
    if 8 + n + pos != size:
        fail(f"data ends at {8 + n + pos}, file size is {size}")
    for k, v in header.items():
        if v["dtype"] not in ("F32", "F16", "BF16", "F64"):
            fail(f"tensor {k}: dtype {v['dtype']} not a float type the engine should write")
    return header, meta


def expected(model, cfg):
    return R.gpt2_expected_shapes(cfg) if model == "gpt2" else R.llama_expected_shapes(cfg)


def normalize(model, tensors):
    """Return (params keyed like ref_models expects, prefix)."""
    if model == "llama":
        return dict(tensors), ""
    prefix = "transformer." if any(k.startswith("transformer.") for k in tensors) else ""
    out = {}
    for k, v in tensors.items():
        if k == "lm_head.weight":
            out[k] = v
        elif prefix and not k.startswith(prefix):
            fail(f"mixed naming: {k} lacks the `{prefix}` prefix used by other tensors")
        else:
            out[k[len(prefix):]] = v
    return out, prefix


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("file")
    ap.add_argument("--model", choices=["gpt2", "llama"])
    ap.add_argument("--config")
    ap.add_argument("--compare")
    ap.add_argument("--ids")
    a = ap.parse_args()

    header, meta = check_header(a.file)
    print(f"{a.file}: {len(header)} tensors, __metadata__ = {meta}")
    tensors, _ = st.load(a.file)
    model = a.model or ("llama" if any(k.startswith("model.layers.") for k in tensors) else "gpt2")
    params_np, prefix = normalize(model, tensors)

    cands = [a.config] if a.config else []
    if not cands:
        side = os.path.join(os.path.dirname(os.path.abspath(a.file)), "config.json")
        cands = [side] if os.path.exists(side) else \
            [os.path.join(R.repo_root(), d, "config.json") for d in ASSETS[model]]
    cfg = None
    for c in cands:
        with open(c) as f:
            cc = json.load(f)
        exp = expected(model, cc)
        if all(k in params_np and list(params_np[k].shape) == s for k, s in exp.items()) or len(cands) == 1:
            cfg, cfg_path = cc, c
            break
    if cfg is None:
        fail(f"no config among {cands} matches the file's names/shapes")
    print(f"model {model}, config {os.path.relpath(cfg_path)}")

    exp = expected(model, cfg)
    errs = []
    for k, s in exp.items():
        if k not in params_np:
            errs.append(f"missing {prefix}{k} {s}")
        elif list(params_np[k].shape) != s:
            errs.append(f"{prefix}{k}: shape {list(params_np[k].shape)}, config says {s}")
    emb = "wte.weight" if model == "gpt2" else "model.embed_tokens.weight"
    for k in params_np:
        if k in exp:
            continue
        if k == "lm_head.weight" and (model == "gpt2" or R.llama_dims(cfg)["tied"]):
            if emb in params_np and not np.array_equal(params_np[k], params_np[emb]):
                errs.append("lm_head.weight present but differs from the tied embedding")
            continue
        errs.append(f"unexpected tensor {k}")
    for k, v in params_np.items():
        if not np.isfinite(v).all():
            errs.append(f"{k}: non-finite values")
    if errs:
        fail("\n  " + "\n  ".join(errs))
    print(f"names/shapes OK: {len(exp)} expected tensors"
          + (f" (+ tied lm_head.weight)" if "lm_head.weight" in params_np and "lm_head.weight" not in exp else ""))

    if a.compare:
        other, _ = st.load(a.compare)
        worst = (0.0, None, 0.0)
        for k, v in tensors.items():
            if k not in other:
                print(f"  compare: {k} not in {a.compare}")
                continue
            b = other[k].astype(np.float64)
            d = np.abs(v.astype(np.float64) - b).max()
            scale = max(np.abs(b).max(), np.abs(v).max())
            rel = d / scale if scale > 0 else 0.0
            if rel >= worst[0]:
                worst = (rel, k, d)
        print(f"compare with {a.compare}: worst per-tensor max|a-b|/max(|a|,|b|) = {worst[0]:.3e} "
              f"({worst[1]}, max|a-b| = {worst[2]:.3e})")

    P = {k: torch.tensor(v, dtype=R.DT) for k, v in params_np.items()}
    V = cfg["vocab_size"]
    if a.ids:
        ids = [int(x) for x in a.ids.split(",")]
    else:
        rs = np.random.RandomState(0)
        ids = ([cfg.get("bos_token_id", 1)] + rs.randint(3, V, 15).tolist()) if model == "llama" \
            else rs.randint(0, V, 16).tolist()
    fwd = R.gpt2_forward if model == "gpt2" else R.llama_forward
    with torch.no_grad():
        t = torch.tensor(ids)
        logits = fwd(P, cfg, t)
        loss = R.next_token_loss(logits, t).item() if len(ids) > 1 else float("nan")
    if not torch.isfinite(logits).all():
        fail("forward produced non-finite logits")
    print(f"forward OK: ids {ids}\n  logits {list(logits.shape)}, next-token loss {loss:.6f}, "
          f"argmax {logits.argmax(-1).tolist()}")
    print("OK")


if __name__ == "__main__":
    main()
