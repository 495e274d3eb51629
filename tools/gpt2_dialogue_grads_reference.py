#!/usr/bin/python3
"""Gradients of one full-batch SFT step of assets/gpt2-shakespeare on the bench's dialogue batch, in float64 (and,
for comparison, float32) PyTorch: the oracle for how exact our float32 gradients are.

Run:  npx tsx tools/dialogue_batch.ts > /tmp/dialogue-batch.json
      /usr/bin/python3 tools/gpt2_dialogue_grads_reference.py /tmp/dialogue-batch.json      (~10 s)

Input: {B, T, ids [B·T], targets [B·T]} (targets already aligned with positions, -100 = not a target).
Writes test/fixtures/gpt2-dialogue-grads.json:
  {B, T, ids, targets, loss, tensors: {name: {shape, max_abs, stride, sample, f32_max_rel}}}
  where sample = the float64 gradient at flat indices 0, stride, 2·stride, ... (at most SAMPLE of them; the whole
  tensor when it is small), max_abs = max |g| over the whole tensor, and f32_max_rel = max |g32 − g64| / max_abs for the
  same step run by PyTorch in float32 (a yardstick, over the whole tensor). Names are the HF keys without `transformer.`
  (wte.weight holds the tied LM head's gradient plus the embedding's). Loss: mean cross-entropy over the targets.
"""
import json
import math
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import ref_models as R  # noqa: E402

SAMPLE = 1024


def grads(P, cfg, ids, labels):
    params = {k: v.clone().requires_grad_(True) for k, v in P.items()}
    loss = R.masked_ce(R.gpt2_forward(params, cfg, ids), labels)
    loss.backward()
    return float(loss.detach()), {k: v.grad.detach() for k, v in params.items()}


def main():
    batch = json.load(open(sys.argv[1]))
    B, T = batch["B"], batch["T"]
    ids = torch.tensor(batch["ids"], dtype=torch.long).view(B, T)
    labels = torch.tensor(batch["targets"], dtype=torch.long).view(B, T)
    cfg, P64, _ = R.gpt2_load(os.path.join(R.repo_root(), "assets/gpt2-shakespeare"), dtype=torch.float64)
    loss, g64 = grads(P64, cfg, ids, labels)
    _, g32 = grads({k: v.to(torch.float32) for k, v in P64.items()}, cfg, ids, labels)
    tensors = {}
    for name, g in g64.items():
        flat = g.reshape(-1)
        stride = max(1, math.ceil(flat.numel() / SAMPLE))
        max_abs = float(flat.abs().max())
        f32_rel = float((g32[name].to(torch.float64) - g).abs().max()) / max_abs
        tensors[name] = {"shape": list(g.shape), "max_abs": max_abs, "stride": stride,
                         "sample": [float(x) for x in flat[::stride]], "f32_max_rel": f32_rel}
    doc = {"generator": "tools/gpt2_dialogue_grads_reference.py", "model": "assets/gpt2-shakespeare",
           "B": B, "T": T, "ids": batch["ids"], "targets": batch["targets"], "loss": loss, "tensors": tensors}
    path = os.path.join(R.fixture_dir(), "gpt2-dialogue-grads.json")
    R.dump_json(path, doc)
    worst = max(tensors.items(), key=lambda kv: kv[1]["f32_max_rel"])
    print(f"wrote {path}: loss {loss:.6f}, PyTorch float32 worst {worst[1]['f32_max_rel']:.2e} ({worst[0]})")


if __name__ == "__main__":
    main()
