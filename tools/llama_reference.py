#!/usr/bin/python3
"""Llama forward + training oracle: float64 plain-PyTorch Llama (tools/ref_models.py) on assets/stories260K-hf.

Run:  /usr/bin/python3 tools/llama_reference.py      (Debian python3-torch, python3-numpy; ~5 s CPU)

1. Checks that greedy decoding from BOS (id 1), 40 new tokens, full recompute each step, reproduces the ids
   documented in assets/stories260K-hf/SOURCE.md (asserts), and decodes them with the SentencePiece pieces of
   tokenizer.model (read by a ~20-line protobuf reader below; no sentencepiece package needed).
2. Writes test/fixtures/llama-logits.safetensors (F32 unless noted):
     ids_len1 I32 [1]     = [1]                                    logits_len1   [1, 512]
     ids_len9 I32 [9]     = [1] + RandomState(0).randint(3, 512, 8)   logits_len9   [9, 512]
     ids_len200 I32 [200] = [1] + same RandomState, next 199 draws    logits_len200 [200, 512]
     loss_len200 F64 []   mean next-token CE over ids_len200
     greedy_prompt_ids I32 [1] = [1];  greedy_ids I32 [40]
3. Writes test/fixtures/llama-train.json: 10 AdamW steps (same recipe as tools/gpt2_train_reference.py),
   B=2, T=32: row 0 = [1] + the first 31 greedy ids (real story text), row 1 = [1] + RandomState(1).randint(3, 512, 31);
   labels[b][t] = ids[b][t+1], last = -100, plus -100 at MASK; loss = mean CE over labels != -100.
   Weight decay 0.1 on 2-D tensors (embed_tokens = tied lm_head, q/k/v/o, gate/up/down), 0 on RMSNorm weights.
"""
import os
import struct
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import ref_models as R  # noqa: E402
import st  # noqa: E402

SOURCE_GREEDY = [403, 407, 261, 378, 432, 383, 286, 261, 376, 298, 315, 421, 395, 317, 426, 338, 401, 396, 267, 337,
                 410, 408, 419, 292, 411, 322, 265, 282, 295, 433, 426, 385, 328, 432, 358, 394, 261, 370, 432, 352]
B, T, STEPS = 2, 32, 10
MASK = [(0, 0), (0, 1), (0, 2), (1, 10), (1, 11), (1, 20)]


def _varint(buf, i):
    r = s = 0
    while True:
        b = buf[i]
        i += 1
        r |= (b & 0x7F) << s
        s += 7
        if b < 0x80:
            return r, i


def _fields(buf):
    i = 0
    while i < len(buf):
        key, i = _varint(buf, i)
        f, wt = key >> 3, key & 7
        if wt == 0:
            v, i = _varint(buf, i)
        elif wt == 1:
            v, i = buf[i:i + 8], i + 8
        elif wt == 2:
            n, i = _varint(buf, i)
            v, i = buf[i:i + n], i + n
        elif wt == 5:
            v, i = buf[i:i + 4], i + 4
        else:
            raise ValueError(f"protobuf wire type {wt}")
        yield f, wt, v


def sp_pieces(path):
    """SentencePiece ModelProto: field 1 = repeated SentencePiece {1: piece, 2: score, 3: type}."""
    with open(path, "rb") as f:
        buf = f.read()
    pieces = []
    for f, wt, v in _fields(buf):
        if f == 1 and wt == 2:
            piece = score = None
            for f2, _, v2 in _fields(v):
                if f2 == 1:
                    piece = v2.decode("utf-8")
                elif f2 == 2:
                    score = struct.unpack("<f", v2)[0]
            pieces.append((piece, score))
    return pieces


def sp_decode(pieces, ids):
    out = b""
    for i in ids:
        p = pieces[i][0]
        if len(p) == 6 and p.startswith("<0x") and p.endswith(">"):
            out += bytes([int(p[3:5], 16)])
        elif p in ("<s>", "</s>", "<unk>"):
            continue
        else:
            out += p.replace("\u2581", " ").encode("utf-8")
    return out.decode("utf-8", errors="replace")


def main():
    root = R.repo_root()
    model_dir = os.path.join(root, "assets", "stories260K-hf")
    cfg, P = R.llama_load(model_dir)
    g = R.llama_dims(cfg)
    V, bos = g["vocab"], cfg["bos_token_id"]
    assert "lm_head.weight" not in P and g["tied"]
    pieces = sp_pieces(os.path.join(model_dir, "tokenizer.model"))
    assert len(pieces) == V, (len(pieces), V)

    gen = R.greedy(R.llama_forward, P, cfg, [bos], 40)
    text = sp_decode(pieces, gen)
    ok = gen == SOURCE_GREEDY
    print(f"greedy from BOS ({len(gen)} ids) = {gen}")
    print(f"decoded: {text!r}")
    print("matches SOURCE.md ids:", ok)
    assert ok, "greedy ids differ from SOURCE.md"

    rs = np.random.RandomState(0)
    seqs = {1: [bos], 9: [bos] + rs.randint(3, V, size=8).tolist(), 200: [bos] + rs.randint(3, V, size=199).tolist()}
    assert max(seqs) <= g["n_pos"]
    out = {}
    with torch.no_grad():
        for n, ids in seqs.items():
            t = torch.tensor(ids)
            logits = R.llama_forward(P, cfg, t)
            out[f"ids_len{n}"] = R.np_i32(ids)
            out[f"logits_len{n}"] = R.to_np32(logits)
            if n == 200:
                loss200 = R.next_token_loss(logits, t).item()
                out["loss_len200"] = np.array(loss200, dtype=np.float64)
    out["greedy_prompt_ids"] = R.np_i32([bos])
    out["greedy_ids"] = R.np_i32(gen)
    fixtures = R.fixture_dir()
    path = os.path.join(fixtures, "llama-logits.safetensors")
    st.save(path, out, metadata={"format": "pt", "model": "assets/stories260K-hf",
                                 "generator": "tools/llama_reference.py", "precision": "float64 forward, stored F32",
                                 "greedy_text": text})
    print(f"wrote {path} ({os.path.getsize(path)} bytes)")
    for k, v in out.items():
        print(f"  {k:18s} {str(v.dtype):8s} {list(v.shape)}")
    print(f"loss_len200 = {loss200:.10f}")

    # ---- training curve
    row0 = [bos] + gen[:T - 1]
    row1 = [bos] + np.random.RandomState(1).randint(3, V, size=T - 1).tolist()
    ids = np.array([row0, row1])
    labels = np.full_like(ids, -100)
    labels[:, :-1] = ids[:, 1:]
    for b, t in MASK:
        labels[b, t] = -100
    res = R.train_curve(R.llama_forward, P, cfg, ids, labels, steps=STEPS)
    doc = {
        "generator": "tools/llama_reference.py",
        "model": "assets/stories260K-hf",
        "config": {"hidden_size": g["d"], "num_hidden_layers": g["n_layer"], "num_attention_heads": g["n_head"],
                   "num_key_value_heads": g["n_kv"], "head_dim": g["hd"], "intermediate_size": g["ffn"],
                   "vocab_size": V, "max_position_embeddings": g["n_pos"], "rms_norm_eps": g["eps"],
                   "rope_theta": g["theta"], "rope_layout": "rotate_half", "tie_word_embeddings": True,
                   "dtype": "float64"},
        "batch": {"B": B, "T": T, "steps": STEPS,
                  "ids_source": "row 0 = [BOS] + first 31 greedy ids from BOS; row 1 = [BOS] + "
                                "np.random.RandomState(1).randint(3, 512, 31)",
                  "masked_positions_besides_last": [list(m) for m in MASK]},
        "loss": "mean cross-entropy of logits[b][t] vs labels[b][t] over labels != -100 (labels already shifted)",
        "input_ids": ids.tolist(),
        "labels": labels.tolist(),
        "optimizer": R.optimizer_description(),
        "decay_grouping": {"rule": "weight_decay 0.1 on every 2-D parameter (embed_tokens = tied lm_head, "
                                   "q/k/v/o_proj, gate/up/down_proj); 0 on 1-D (RMSNorm weights)",
                           "decay": res["decay"], "no_decay": res["no_decay"]},
        "losses": res["losses"],
        "grad_norms": res["grad_norms"],
    }
    path = os.path.join(fixtures, "llama-train.json")
    R.dump_json(path, doc)
    print(f"wrote {path}")
    print(f"  losses     = {[round(x, 6) for x in res['losses']]}")
    print(f"  grad_norms = {[round(x, 6) for x in res['grad_norms']]}")


if __name__ == "__main__":
    main()
