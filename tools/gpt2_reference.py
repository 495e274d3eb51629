#!/usr/bin/python3
"""GPT-2 forward oracle: float64 plain-PyTorch forward of assets/gpt2-shakespeare -> test/fixtures/gpt2-logits.safetensors.

Run:  /usr/bin/python3 tools/gpt2_reference.py      (Debian python3-torch, python3-numpy, python3-regex; ~10 s CPU)

Sequences (all deterministic):
  ids_len1, ids_len7, ids_len128: np.random.RandomState(0).randint(0, 50257, size=n), drawn in that order (1, 7, 128)
  ids_text: GPT-2 BPE of TEXT below (the opening of tiny shakespeare), encoded by tools/gpt2_bpe.py
Tensors written (F32 unless noted):
  ids_len1 I32 [1]         logits_len1 [1, 50257]
  ids_len7 I32 [7]         logits_len7 [7, 50257]
  ids_len128 I32 [128]     logits_len128_rows [5, 50257] at logits_len128_positions I32 [5] = [0, 1, 63, 126, 127]
  loss_len128 F64 []       mean next-token CE over ids_len128 (logits[t] vs ids[t+1], t = 0..126)
  ids_text I32 [n]         logits_text_rows [3, 50257] at logits_text_positions I32 [3] = [0, n/2, n-1]
  argmax_text I32 [n]      per-position argmax of the full text logits;  loss_text F64 []
  greedy_prompt_ids I32 [4] = BPE("ROMEO:\\n");  greedy_ids I32 [30]: greedy, full recompute each step, no stop token
It asserts that the decoded greedy text equals the continuation documented in assets/gpt2-shakespeare/SOURCE.md.
"""
import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gpt2_bpe  # noqa: E402
import ref_models as R  # noqa: E402
import st  # noqa: E402

TEXT = "First Citizen:\nBefore we proceed any further, hear me speak.\n\nAll:\nSpeak, speak.\n"
PROMPT = "ROMEO:\n"
EXPECTED_GREEDY = ("ROMEO:\nI'll be a man, I will be a man,\nAnd, and my lord, and I'll be a man,\nAnd, and")


def main():
    root = R.repo_root()
    model_dir = os.path.join(root, "assets", "gpt2-shakespeare")
    cfg, P, prefix = R.gpt2_load(model_dir)
    V = cfg["vocab_size"]
    assert prefix == "transformer." and "lm_head.weight" not in P, "expected tied lm_head, transformer. prefix"
    tok = gpt2_bpe.GPT2BPE(model_dir)

    rs = np.random.RandomState(0)
    seqs = {n: rs.randint(0, V, size=n).astype(np.int64) for n in (1, 7, 128)}
    out = {}
    with torch.no_grad():
        for n in (1, 7):
            ids = torch.tensor(seqs[n])
            out[f"ids_len{n}"] = R.np_i32(seqs[n])
            out[f"logits_len{n}"] = R.to_np32(R.gpt2_forward(P, cfg, ids))
        ids = torch.tensor(seqs[128])
        logits = R.gpt2_forward(P, cfg, ids)
        pos = [0, 1, 63, 126, 127]
        out["ids_len128"] = R.np_i32(seqs[128])
        out["logits_len128_rows"] = R.to_np32(logits[pos])
        out["logits_len128_positions"] = R.np_i32(pos)
        loss128 = R.next_token_loss(logits, ids)
        out["loss_len128"] = np.array(loss128.item(), dtype=np.float64)

        text_ids = tok.encode(TEXT)
        assert tok.decode(text_ids) == TEXT
        t = torch.tensor(text_ids)
        logits = R.gpt2_forward(P, cfg, t)
        n = len(text_ids)
        tpos = [0, n // 2, n - 1]
        out["ids_text"] = R.np_i32(text_ids)
        out["logits_text_rows"] = R.to_np32(logits[tpos])
        out["logits_text_positions"] = R.np_i32(tpos)
        out["argmax_text"] = R.np_i32(logits.argmax(-1).numpy())
        loss_text = R.next_token_loss(logits, t)
        out["loss_text"] = np.array(loss_text.item(), dtype=np.float64)

    prompt = tok.encode(PROMPT)
    gen = R.greedy(R.gpt2_forward, P, cfg, prompt, 30)
    text = tok.decode(prompt + gen)
    out["greedy_prompt_ids"] = R.np_i32(prompt)
    out["greedy_ids"] = R.np_i32(gen)
    assert text == EXPECTED_GREEDY, f"greedy text differs from SOURCE.md: {text!r}"

    path = os.path.join(R.fixture_dir(), "gpt2-logits.safetensors")
    st.save(path, out, metadata={"format": "pt", "model": "assets/gpt2-shakespeare",
                                 "generator": "tools/gpt2_reference.py", "precision": "float64 forward, stored F32",
                                 "text": TEXT, "greedy_text": text})
    print(f"wrote {path} ({os.path.getsize(path)} bytes)")
    for k, v in out.items():
        print(f"  {k:26s} {str(v.dtype):8s} {list(v.shape)}")
    print(f"loss_len128 = {loss128.item():.10f}")
    print(f"ids_text ({n} tokens) = {text_ids}; loss_text = {loss_text.item():.10f}")
    print(f"greedy_prompt_ids = {prompt}")
    print(f"greedy_ids = {gen}")
    print(f"greedy text = {text!r}  (matches SOURCE.md)")


if __name__ == "__main__":
    main()
