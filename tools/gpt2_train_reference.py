#!/usr/bin/python3
"""GPT-2 training oracle (llm.c test_gpt2 style): 10 float64 AdamW steps on a fixed batch, for
assets/hf-fixtures/tiny_gpt2 and assets/gpt2-shakespeare.

Run:  /usr/bin/python3 tools/gpt2_train_reference.py      (Debian python3-torch, python3-numpy, python3-regex; ~5 s)

Writes:
  test/fixtures/gpt2-train-tiny_gpt2.json, test/fixtures/gpt2-train-gpt2-shakespeare.json:
      {model, config, batch, input_ids [B][T], labels [B][T], loss, optimizer, decay_grouping,
       losses [10] (loss at steps 1..10, BEFORE each update), grad_norms [10] (pre-clip global L2 norm)}
  test/fixtures/gpt2-train-tiny-step1.safetensors: every tiny_gpt2 parameter after exactly one AdamW step
      (same names/order/F32 layout as assets/hf-fixtures/tiny_gpt2/model.safetensors: no `transformer.` prefix)
  test/fixtures/gpt2-train-tiny-step1-grads.safetensors: the step-1 gradients (before clipping), same names, F32

Batch: B=2, T=16.
  tiny_gpt2 (vocab 21): input_ids = np.random.RandomState(0).randint(0, 21, size=(2, 16)).
  gpt2-shakespeare: the first 32 GPT-2 BPE tokens of TEXT (opening of tiny shakespeare), reshaped (2, 16).
  labels[b][t] = input_ids[b][t+1], labels[b][15] = -100, and also -100 at MASK = [(0,0),(0,1),(0,2),(0,3),(1,6),(1,7)].
  labels are already aligned: the loss compares logits[b][t] with labels[b][t] (no further shift);
  loss = mean cross-entropy over the labels != -100 (sum / count, over the whole batch).
Model: dropout off (tiny_gpt2's config has p=0.1: ignored), lm_head tied to wte (one parameter, grads add up).
"""
import json
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gpt2_bpe  # noqa: E402
import ref_models as R  # noqa: E402
import st  # noqa: E402

B, T, STEPS = 2, 16, 10
MASK = [(0, 0), (0, 1), (0, 2), (0, 3), (1, 6), (1, 7)]
TEXT = ("First Citizen:\nBefore we proceed any further, hear me speak.\n\nAll:\nSpeak, speak.\n\n"
        "First Citizen:\nYou are all resolved rather to die than to famish?\n")


def make_labels(ids):
    ids = np.asarray(ids)
    labels = np.full_like(ids, -100)
    labels[:, :-1] = ids[:, 1:]
    for b, t in MASK:
        labels[b, t] = -100
    return labels


def run(name, model_dir, ids, fixtures):
    cfg, P, prefix = R.gpt2_load(model_dir)
    labels = make_labels(ids)
    res = R.train_curve(R.gpt2_forward, P, cfg, ids, labels, steps=STEPS)
    g = R.gpt2_dims(cfg)
    doc = {
        "generator": "tools/gpt2_train_reference.py",
        "model": os.path.relpath(model_dir, R.repo_root()),
        "config": {"n_embd": g["d"], "n_layer": g["n_layer"], "n_head": g["n_head"], "n_inner": g["n_inner"],
                   "vocab_size": g["vocab"], "n_positions": g["n_pos"], "layer_norm_epsilon": g["eps"],
                   "activation": "gelu_new (tanh form)", "dropout": 0.0, "tied_lm_head": True,
                   "name_prefix_in_file": prefix, "dtype": "float64"},
        "batch": {"B": B, "T": T, "steps": STEPS,
                  "ids_source": ("np.random.RandomState(0).randint(0, vocab, size=(2, 16))" if name == "tiny_gpt2"
                                 else "first 32 GPT-2 BPE tokens of the text below, reshaped (2, 16)"),
                  "text": TEXT if name != "tiny_gpt2" else None,
                  "masked_positions_besides_last": [list(m) for m in MASK]},
        "loss": "mean cross-entropy of logits[b][t] vs labels[b][t] over labels != -100 (labels already shifted)",
        "input_ids": np.asarray(ids).tolist(),
        "labels": labels.tolist(),
        "optimizer": R.optimizer_description(),
        "decay_grouping": {"rule": "weight_decay 0.1 on every 2-D parameter (Conv1D matrices, wte, wpe); "
                                   "0 on 1-D (biases, LayerNorm weight/bias); wte counted once (tied lm_head)",
                           "decay": res["decay"], "no_decay": res["no_decay"]},
        "losses": res["losses"],
        "grad_norms": res["grad_norms"],
    }
    path = os.path.join(fixtures, f"gpt2-train-{name}.json")
    R.dump_json(path, doc)
    print(f"wrote {path}")
    print(f"  losses     = {[round(x, 6) for x in res['losses']]}")
    print(f"  grad_norms = {[round(x, 6) for x in res['grad_norms']]}")
    return cfg, prefix, res


def main():
    root = R.repo_root()
    fixtures = R.fixture_dir()

    tiny_dir = os.path.join(root, "assets", "hf-fixtures", "tiny_gpt2")
    with open(os.path.join(tiny_dir, "config.json")) as f:
        vocab = json.load(f)["vocab_size"]
    tiny_ids = np.random.RandomState(0).randint(0, vocab, size=(B, T))
    _, prefix, res = run("tiny_gpt2", tiny_dir, tiny_ids, fixtures)

    # Step-1 parameters in the input file's own layout (names, order, F32).
    src, meta = st.load(os.path.join(tiny_dir, "model.safetensors"))
    after = {k: R.to_np32(res["params_after_step1"][k[len(prefix):]]) for k in src}
    grads = {k: R.to_np32(res["grads_step1"][k[len(prefix):]]) for k in src}
    for k in src:
        assert after[k].shape == src[k].shape
    p1 = os.path.join(fixtures, "gpt2-train-tiny-step1.safetensors")
    st.save(p1, after, metadata=meta or {"format": "pt"})
    p2 = os.path.join(fixtures, "gpt2-train-tiny-step1-grads.safetensors")
    st.save(p2, grads, metadata={"format": "pt", "content": "step-1 gradients before clipping",
                                 "generator": "tools/gpt2_train_reference.py"})
    print(f"wrote {p1} ({len(after)} tensors) and {p2}")

    shk_dir = os.path.join(root, "assets", "gpt2-shakespeare")
    tok = gpt2_bpe.GPT2BPE(shk_dir)
    text_ids = tok.encode(TEXT)
    assert len(text_ids) >= B * T, len(text_ids)
    shk_ids = np.asarray(text_ids[:B * T]).reshape(B, T)
    run("gpt2-shakespeare", shk_dir, shk_ids, fixtures)


if __name__ == "__main__":
    main()
