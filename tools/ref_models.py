"""Plain-PyTorch float64 reference forwards for GPT-2 and Llama (Hugging Face weight layouts).

Written from the published architecture descriptions (GPT-2: Radford et al. 2019 + HF Conv1D layout;
Llama: Touvron et al. 2023 + HF rotate_half RoPE layout), with torch.nn.functional and tensors only.
Library module: imported by the other tools/ scripts, not run directly.

GPT-2 (pre-LN):  x = wte[ids] + wpe[pos]
  per block:     x += c_proj(attn(ln_1(x)));  x += mlp.c_proj(gelu_new(mlp.c_fc(ln_2(x))))
  logits = ln_f(x) @ wte^T  (lm_head tied to wte).  Conv1D weights are [in, out]: y = x @ W + b.
  gelu_new(x) = 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))).  Attention scale 1/sqrt(head_dim), causal.
Llama:           x = embed_tokens[ids]
  per block:     x += o_proj(attn(rms(x) * input_layernorm));  x += down(silu(gate(h)) * up(h)), h = rms(x) * post_attention_layernorm
  logits = (rms(x) * norm) @ lm_head^T, lm_head = embed_tokens when tie_word_embeddings.
  Linear weights are [out, in]: y = x @ W^T.  RMS: x / sqrt(mean(x^2) + eps).
  RoPE (rotate_half layout): inv_freq_i = theta^(-2i/d), i < d/2; angle = pos * inv_freq, duplicated to [d];
  q' = q cos + rotate_half(q) sin, rotate_half([a, b]) = [-b, a] (halves of the head dim).
  GQA: key/value head j serves query heads j*g .. j*g+g-1, g = n_heads / n_kv_heads.
"""
import json
import math
import os

import numpy as np
import torch
import torch.nn.functional as F

import st

DT = torch.float64


# ----------------------------------------------------------------------------- GPT-2

def gpt2_load(model_dir, dtype=DT):
    """Return (cfg, params, prefix): params keyed by names WITHOUT the `transformer.` prefix."""
    with open(os.path.join(model_dir, "config.json")) as f:
        cfg = json.load(f)
    tensors, _ = st.load(os.path.join(model_dir, "model.safetensors"))
    prefix = "transformer." if any(k.startswith("transformer.") for k in tensors) else ""
    params = {}
    for k, v in tensors.items():
        name = k[len(prefix):] if prefix and k.startswith(prefix) else k
        params[name] = torch.tensor(v, dtype=dtype)
    return cfg, params, prefix


def gpt2_dims(cfg):
    d = cfg["n_embd"]
    return dict(d=d, n_layer=cfg["n_layer"], n_head=cfg["n_head"],
                n_inner=cfg.get("n_inner") or 4 * d, vocab=cfg["vocab_size"],
                n_pos=cfg["n_positions"], eps=cfg.get("layer_norm_epsilon", 1e-5))


def gpt2_expected_shapes(cfg):
    g = gpt2_dims(cfg)
    d, fi = g["d"], g["n_inner"]
    shapes = {"wte.weight": [g["vocab"], d], "wpe.weight": [g["n_pos"], d],
              "ln_f.weight": [d], "ln_f.bias": [d]}
    for i in range(g["n_layer"]):
        p = f"h.{i}."
        shapes.update({
            p + "ln_1.weight": [d], p + "ln_1.bias": [d],
            p + "attn.c_attn.weight": [d, 3 * d], p + "attn.c_attn.bias": [3 * d],
            p + "attn.c_proj.weight": [d, d], p + "attn.c_proj.bias": [d],
            p + "ln_2.weight": [d], p + "ln_2.bias": [d],
            p + "mlp.c_fc.weight": [d, fi], p + "mlp.c_fc.bias": [fi],
            p + "mlp.c_proj.weight": [fi, d], p + "mlp.c_proj.bias": [d],
        })
    return shapes


def gelu_new(x):
    return 0.5 * x * (1.0 + torch.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * x ** 3)))


def gpt2_forward(params, cfg, ids):
    """ids: LongTensor [B, T] (or [T]) -> logits [B, T, V] (or [T, V]). No dropout, no cache."""
    squeeze = ids.dim() == 1
    if squeeze:
        ids = ids[None]
    g = gpt2_dims(cfg)
    B, T = ids.shape
    assert T <= g["n_pos"], f"sequence length {T} > n_positions {g['n_pos']}"
    d, H = g["d"], g["n_head"]
    hd = d // H
    eps = g["eps"]
    P = params
    x = P["wte.weight"][ids] + P["wpe.weight"][torch.arange(T)][None]
    causal = torch.ones(T, T, dtype=torch.bool).tril()
    for i in range(g["n_layer"]):
        p = f"h.{i}."
        h = F.layer_norm(x, (d,), P[p + "ln_1.weight"], P[p + "ln_1.bias"], eps)
        qkv = h @ P[p + "attn.c_attn.weight"] + P[p + "attn.c_attn.bias"]  # [B,T,3d]: q | k | v
        q, k, v = qkv.split(d, dim=-1)
        q = q.view(B, T, H, hd).transpose(1, 2)
        k = k.view(B, T, H, hd).transpose(1, 2)
        v = v.view(B, T, H, hd).transpose(1, 2)
        att = (q @ k.transpose(-1, -2)) / math.sqrt(hd)
        att = att.masked_fill(~causal, float("-inf")).softmax(dim=-1)
        y = (att @ v).transpose(1, 2).reshape(B, T, d)
        x = x + (y @ P[p + "attn.c_proj.weight"] + P[p + "attn.c_proj.bias"])
        h = F.layer_norm(x, (d,), P[p + "ln_2.weight"], P[p + "ln_2.bias"], eps)
        h = gelu_new(h @ P[p + "mlp.c_fc.weight"] + P[p + "mlp.c_fc.bias"])
        x = x + (h @ P[p + "mlp.c_proj.weight"] + P[p + "mlp.c_proj.bias"])
    x = F.layer_norm(x, (d,), P["ln_f.weight"], P["ln_f.bias"], eps)
    lm_head = P.get("lm_head.weight", P["wte.weight"])
    logits = x @ lm_head.t()
    return logits[0] if squeeze else logits


# ----------------------------------------------------------------------------- Llama

def llama_load(model_dir, dtype=DT):
    with open(os.path.join(model_dir, "config.json")) as f:
        cfg = json.load(f)
    tensors, _ = st.load(os.path.join(model_dir, "model.safetensors"))
    params = {k: torch.tensor(v, dtype=dtype) for k, v in tensors.items()}
    return cfg, params


def llama_dims(cfg):
    d = cfg["hidden_size"]
    H = cfg["num_attention_heads"]
    return dict(d=d, n_layer=cfg["num_hidden_layers"], n_head=H,
                n_kv=cfg.get("num_key_value_heads") or H, hd=cfg.get("head_dim") or d // H,
                ffn=cfg["intermediate_size"], vocab=cfg["vocab_size"],
                n_pos=cfg["max_position_embeddings"], eps=cfg.get("rms_norm_eps", 1e-6),
                theta=cfg.get("rope_theta", 10000.0), tied=cfg.get("tie_word_embeddings", False))


def llama_expected_shapes(cfg):
    g = llama_dims(cfg)
    d, hd, H, KV, fi = g["d"], g["hd"], g["n_head"], g["n_kv"], g["ffn"]
    shapes = {"model.embed_tokens.weight": [g["vocab"], d], "model.norm.weight": [d]}
    if not g["tied"]:
        shapes["lm_head.weight"] = [g["vocab"], d]
    for i in range(g["n_layer"]):
        p = f"model.layers.{i}."
        shapes.update({
            p + "input_layernorm.weight": [d], p + "post_attention_layernorm.weight": [d],
            p + "self_attn.q_proj.weight": [H * hd, d], p + "self_attn.k_proj.weight": [KV * hd, d],
            p + "self_attn.v_proj.weight": [KV * hd, d], p + "self_attn.o_proj.weight": [d, H * hd],
            p + "mlp.gate_proj.weight": [fi, d], p + "mlp.up_proj.weight": [fi, d],
            p + "mlp.down_proj.weight": [d, fi],
        })
    return shapes


def rms_norm(x, w, eps):
    return x * torch.rsqrt((x * x).mean(dim=-1, keepdim=True) + eps) * w


def rotate_half(x):
    half = x.shape[-1] // 2
    return torch.cat([-x[..., half:], x[..., :half]], dim=-1)


def rope_cos_sin(T, hd, theta, dtype=DT):
    inv_freq = 1.0 / (theta ** (torch.arange(0, hd, 2, dtype=dtype) / hd))  # [hd/2]
    ang = torch.arange(T, dtype=dtype)[:, None] * inv_freq[None]  # [T, hd/2]
    ang = torch.cat([ang, ang], dim=-1)  # [T, hd]
    return ang.cos(), ang.sin()


def llama_forward(params, cfg, ids):
    """ids: LongTensor [B, T] (or [T]) -> logits [B, T, V] (or [T, V])."""
    squeeze = ids.dim() == 1
    if squeeze:
        ids = ids[None]
    g = llama_dims(cfg)
    B, T = ids.shape
    assert T <= g["n_pos"], f"sequence length {T} > max_position_embeddings {g['n_pos']}"
    d, H, KV, hd, eps = g["d"], g["n_head"], g["n_kv"], g["hd"], g["eps"]
    rep = H // KV
    P = params
    x = P["model.embed_tokens.weight"][ids]
    cos, sin = rope_cos_sin(T, hd, g["theta"], x.dtype)
    causal = torch.ones(T, T, dtype=torch.bool).tril()
    for i in range(g["n_layer"]):
        p = f"model.layers.{i}."
        h = rms_norm(x, P[p + "input_layernorm.weight"], eps)
        q = (h @ P[p + "self_attn.q_proj.weight"].t()).view(B, T, H, hd).transpose(1, 2)
        k = (h @ P[p + "self_attn.k_proj.weight"].t()).view(B, T, KV, hd).transpose(1, 2)
        v = (h @ P[p + "self_attn.v_proj.weight"].t()).view(B, T, KV, hd).transpose(1, 2)
        q = q * cos + rotate_half(q) * sin
        k = k * cos + rotate_half(k) * sin
        k = k.repeat_interleave(rep, dim=1)  # kv head j -> query heads j*rep .. j*rep+rep-1
        v = v.repeat_interleave(rep, dim=1)
        att = (q @ k.transpose(-1, -2)) / math.sqrt(hd)
        att = att.masked_fill(~causal, float("-inf")).softmax(dim=-1)
        y = (att @ v).transpose(1, 2).reshape(B, T, H * hd)
        x = x + y @ P[p + "self_attn.o_proj.weight"].t()
        h = rms_norm(x, P[p + "post_attention_layernorm.weight"], eps)
        m = F.silu(h @ P[p + "mlp.gate_proj.weight"].t()) * (h @ P[p + "mlp.up_proj.weight"].t())
        x = x + m @ P[p + "mlp.down_proj.weight"].t()
    x = rms_norm(x, P["model.norm.weight"], eps)
    lm_head = P.get("lm_head.weight", P["model.embed_tokens.weight"])
    logits = x @ lm_head.t()
    return logits[0] if squeeze else logits


# ----------------------------------------------------------------------------- shared

def greedy(forward, params, cfg, prompt_ids, n_new):
    """Greedy decoding, full recompute each step (no KV cache), stops only at n_new tokens."""
    ids = list(prompt_ids)
    with torch.no_grad():
        for _ in range(n_new):
            logits = forward(params, cfg, torch.tensor(ids, dtype=torch.long))
            ids.append(int(logits[-1].argmax()))
    return ids[len(prompt_ids):]


def next_token_loss(logits, ids):
    """Mean cross-entropy of logits[t] predicting ids[t+1] over a single sequence [T]."""
    return F.cross_entropy(logits[:-1], ids[1:], reduction="mean")


def fixture_dir():
    here = os.path.dirname(os.path.abspath(__file__))
    d = os.path.join(here, "..", "test", "fixtures")
    os.makedirs(d, exist_ok=True)
    return os.path.normpath(d)


def repo_root():
    return os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))


def to_np32(t):
    return t.detach().to(torch.float32).numpy()


def np_i32(a):
    return np.asarray(a, dtype=np.int32)


# ----------------------------------------------------------------------------- training oracle

def decay_split(params):
    """AdamW grouping: weight decay on every 2-D tensor (matrices and embeddings), none on 1-D (biases, norms)."""
    decay = [k for k, v in params.items() if v.dim() >= 2]
    no_decay = [k for k, v in params.items() if v.dim() < 2]
    return decay, no_decay


def masked_ce(logits, labels):
    """Mean cross-entropy over positions whose label != -100. labels[b, t] is the target of logits[b, t]."""
    V = logits.shape[-1]
    return F.cross_entropy(logits.reshape(-1, V), labels.reshape(-1), ignore_index=-100, reduction="mean")


def train_curve(forward, params_in, cfg, ids, labels, steps=10, lr=1e-3, betas=(0.9, 0.999), eps=1e-8,
                weight_decay=0.1, clip=1.0):
    """Float64 AdamW run. Returns dict(losses, grad_norms, params_after_step1, grads_step1, decay, no_decay).

    losses[i] = loss at step i+1 BEFORE that step's update; grad_norms[i] = global L2 norm of all grads
    before clipping (the value clip_grad_norm_ returns); then clip to `clip`, then AdamW update.
    """
    params = {k: v.clone().to(DT).requires_grad_(True) for k, v in params_in.items()}
    decay, no_decay = decay_split(params)
    opt = torch.optim.AdamW(
        [{"params": [params[k] for k in decay], "weight_decay": weight_decay},
         {"params": [params[k] for k in no_decay], "weight_decay": 0.0}],
        lr=lr, betas=betas, eps=eps)
    ids_t = torch.tensor(ids, dtype=torch.long)
    labels_t = torch.tensor(labels, dtype=torch.long)
    losses, norms = [], []
    after1 = grads1 = None
    for step in range(steps):
        opt.zero_grad(set_to_none=True)
        loss = masked_ce(forward(params, cfg, ids_t), labels_t)
        loss.backward()
        for v in params.values():  # parameters that do not reach the loss (none here) get a zero grad
            if v.grad is None:
                v.grad = torch.zeros_like(v)
        if step == 0:
            grads1 = {k: v.grad.detach().clone() for k, v in params.items()}
        norm = torch.nn.utils.clip_grad_norm_(list(params.values()), clip)
        opt.step()
        losses.append(loss.item())
        norms.append(float(norm))
        if step == 0:
            after1 = {k: v.detach().clone() for k, v in params.items()}
    return dict(losses=losses, grad_norms=norms, params_after_step1=after1, grads_step1=grads1,
                decay=decay, no_decay=no_decay)


def optimizer_description(lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.1, clip=1.0):
    return {
        "name": "torch.optim.AdamW (PyTorch 1.13, float64)",
        "lr": lr, "betas": list(betas), "eps": eps, "weight_decay": weight_decay,
        "update": "p *= 1 - lr*wd; m = b1*m + (1-b1)*g; v = b2*v + (1-b2)*g^2; "
                  "p -= lr/(1-b1^t) * m / (sqrt(v)/sqrt(1-b2^t) + eps)",
        "grad_clip": {"max_norm": clip, "norm_type": 2,
                      "how": "torch.nn.utils.clip_grad_norm_ over all parameters: g *= max_norm/(total_norm+1e-6) "
                             "when that factor < 1; grad_norms are the totals BEFORE clipping"},
        "lr_schedule": "constant",
    }


def dump_json(path, doc):
    """Top-level keys one per line, values compact (keeps id lists on one line)."""
    lines = [f" {json.dumps(k)}: {json.dumps(v)}" for k, v in doc.items()]
    with open(path, "w") as f:
        f.write("{\n" + ",\n".join(lines) + "\n}\n")
