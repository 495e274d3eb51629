"""Qwen2, Qwen3, Llama 3 (llama3 RoPE) and a Llama with explicit head_dim + attention_bias + mlp_bias + untied head,
built by Hugging Face transformers itself from their real config.json shapes scaled down (2 layers, hidden 48,
vocab 192), random weights from a fixed seed.

Run:  XDG_RUNTIME_DIR=/tmp/xdg /work/venv-hf/bin/python tools/families_reference.py     (~20 s CPU)

For each family NAME writes test/fixtures/families/NAME/:
  config.json, model.safetensors   save_pretrained of the float32 model (the weights the engine loads)
  reference.safetensors            ids I32 [12] (RandomState(0)), logits F32 [12, V] (float64 forward of the same
                                   weights), greedy_prompt_ids I32 [4], greedy_ids I32 [16] (argmax, full recompute)
  train.json                       10 AdamW steps in float64 (tools/ref_models.train_curve: lr 1e-3, betas
                                   (0.9, 0.999), eps 1e-8, weight decay 0.1 on 2-D tensors, clip 1.0), B=2, T=16
"""
import copy
import os
import sys

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
import numpy as np  # noqa: E402
import torch  # noqa: E402
import transformers  # noqa: E402
from torch.func import functional_call  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import ref_models as R  # noqa: E402
import st  # noqa: E402

V, C, FF, L = 192, 48, 96, 2

# The published config.json of each model (architectures, every field), then the sizes scaled down.
QWEN25_05B = dict(architectures=["Qwen2ForCausalLM"], attention_dropout=0.0, bos_token_id=151643, eos_token_id=151643,
                  hidden_act="silu", hidden_size=896, initializer_range=0.02, intermediate_size=4864,
                  max_position_embeddings=32768, max_window_layers=24, model_type="qwen2", num_attention_heads=14,
                  num_hidden_layers=24, num_key_value_heads=2, rms_norm_eps=1e-06, rope_theta=1000000.0,
                  sliding_window=32768, tie_word_embeddings=True, torch_dtype="bfloat16", use_cache=True,
                  use_sliding_window=False, vocab_size=151936)
QWEN3_06B = dict(architectures=["Qwen3ForCausalLM"], attention_bias=False, attention_dropout=0.0, bos_token_id=151643,
                 eos_token_id=151645, head_dim=128, hidden_act="silu", hidden_size=1024, initializer_range=0.02,
                 intermediate_size=3072, max_position_embeddings=40960, max_window_layers=28, model_type="qwen3",
                 num_attention_heads=16, num_hidden_layers=28, num_key_value_heads=8, rms_norm_eps=1e-06,
                 rope_scaling=None, rope_theta=1000000, sliding_window=None, tie_word_embeddings=True,
                 torch_dtype="bfloat16", use_cache=True, use_sliding_window=False, vocab_size=151936)
LLAMA32_1B = dict(architectures=["LlamaForCausalLM"], attention_bias=False, attention_dropout=0.0, bos_token_id=128000,
                  eos_token_id=[128001, 128008, 128009], head_dim=64, hidden_act="silu", hidden_size=2048,
                  initializer_range=0.02, intermediate_size=8192, max_position_embeddings=131072, mlp_bias=False,
                  model_type="llama", num_attention_heads=32, num_hidden_layers=16, num_key_value_heads=8,
                  pretraining_tp=1, rms_norm_eps=1e-05,
                  rope_scaling=dict(factor=32.0, high_freq_factor=4.0, low_freq_factor=1.0,
                                    original_max_position_embeddings=8192, rope_type="llama3"),
                  rope_theta=500000.0, tie_word_embeddings=True, torch_dtype="bfloat16", use_cache=True,
                  vocab_size=128256)
SMALL = dict(vocab_size=V, hidden_size=C, intermediate_size=FF, num_hidden_layers=L, max_position_embeddings=256)

FAMILIES = {
    # Qwen2.5-0.5B: q/k/v biases, no o bias, tied head, sliding_window set but unused.
    "qwen2": dict(QWEN25_05B, **SMALL, num_attention_heads=4, num_key_value_heads=2, max_window_layers=2,
                  bos_token_id=V - 1, eos_token_id=V - 1),
    # Qwen3-0.6B: q_norm/k_norm, head_dim 16 != 48/4.
    "qwen3": dict(QWEN3_06B, **SMALL, num_attention_heads=4, num_key_value_heads=2, head_dim=16, max_window_layers=2,
                  bos_token_id=V - 2, eos_token_id=V - 1),
    # Llama-3.2-1B: llama3 RoPE; original_max_position_embeddings scaled to 64 so every band (high, smoothed, low)
    # holds a frequency of head_dim 16 at theta 500000.
    "llama3": dict(LLAMA32_1B, **SMALL, num_attention_heads=3, num_key_value_heads=1, head_dim=16, bos_token_id=V - 3,
                   eos_token_id=[V - 2, V - 1],
                   rope_scaling=dict(LLAMA32_1B["rope_scaling"], original_max_position_embeddings=64)),
    # Llama with head_dim 32 != 48/2, attention_bias, mlp_bias and an untied lm_head.
    "llama-bias": dict(LLAMA32_1B, **SMALL, num_attention_heads=2, num_key_value_heads=1, head_dim=32,
                       attention_bias=True, mlp_bias=True, tie_word_embeddings=False, rope_scaling=None,
                       rope_theta=10000.0, bos_token_id=1, eos_token_id=2),
}
CLASSES = {"qwen2": transformers.Qwen2ForCausalLM, "qwen3": transformers.Qwen3ForCausalLM,
           "llama": transformers.LlamaForCausalLM}
T_LOGITS, PROMPT, NEW, B, T, STEPS = 12, 4, 16, 2, 16, 10
MASK = [(0, 0), (0, 1), (1, 5)]


def build(name, raw):
    torch.manual_seed(0)
    cfg = transformers.AutoConfig.for_model(**copy.deepcopy(raw))
    model = CLASSES[raw["model_type"]](cfg).float().eval()
    g = torch.Generator().manual_seed(1234)
    with torch.no_grad():
        for n, p in model.named_parameters():
            if n.endswith("norm.weight"):
                p.copy_(1 + 0.2 * torch.randn(p.shape, generator=g))
            elif p.dim() == 1:
                p.copy_(0.2 * torch.randn(p.shape, generator=g))
            elif "embed_tokens" in n:
                p.copy_(0.3 * torch.randn(p.shape, generator=g))
            else:
                p.copy_(torch.randn(p.shape, generator=g) / p.shape[1] ** 0.5)
    return model


def main():
    root = R.repo_root()
    print("transformers", transformers.__version__, "torch", torch.__version__)
    for name, raw in FAMILIES.items():
        out_dir = os.path.join(root, "test", "fixtures", "families", name)
        os.makedirs(out_dir, exist_ok=True)
        model = build(name, raw)
        model.save_pretrained(out_dir, safe_serialization=True)
        m64 = copy.deepcopy(model).double()
        rs = np.random.RandomState(0)
        ids = rs.randint(0, V, size=T_LOGITS).tolist()
        with torch.no_grad():
            logits = m64(torch.tensor([ids])).logits[0]
            seq = rs.randint(0, V, size=PROMPT).tolist()
            prompt = list(seq)
            for _ in range(NEW):
                seq.append(int(m64(torch.tensor([seq])).logits[0, -1].argmax()))
        st.save(os.path.join(out_dir, "reference.safetensors"),
                {"ids": R.np_i32(ids), "logits": R.to_np32(logits), "greedy_prompt_ids": R.np_i32(prompt),
                 "greedy_ids": R.np_i32(seq[PROMPT:])},
                metadata={"generator": "tools/families_reference.py", "class": type(model).__name__,
                          "precision": "float64 forward of the float32 weights, stored F32"})
        rows = rs.randint(0, V, size=(B, T))
        labels = np.full_like(rows, -100)
        labels[:, :-1] = rows[:, 1:]
        for b, t in MASK:
            labels[b, t] = -100
        params = {k: v.detach() for k, v in m64.named_parameters()}  # tied head: embed_tokens only

        def forward(p, _cfg, x):
            return functional_call(m64, p, (x,)).logits

        m64.config.use_cache = False
        res = R.train_curve(forward, params, None, rows, labels, steps=STEPS)
        R.dump_json(os.path.join(out_dir, "train.json"), {
            "generator": "tools/families_reference.py", "class": type(model).__name__,
            "batch": {"B": B, "T": T, "ids_source": "np.random.RandomState(0) after the logits and greedy draws"},
            "input_ids": rows.tolist(), "labels": labels.tolist(), "optimizer": R.optimizer_description(),
            "decay": res["decay"], "no_decay": res["no_decay"], "losses": res["losses"],
            "grad_norms": res["grad_norms"]})
        size = sum(os.path.getsize(os.path.join(out_dir, f)) for f in os.listdir(out_dir))
        print(f"{name:10s} {type(model).__name__:18s} greedy {seq[PROMPT:]} loss {res['losses'][0]:.5f} -> "
              f"{res['losses'][-1]:.5f}  {size} bytes")


if __name__ == "__main__":
    main()
