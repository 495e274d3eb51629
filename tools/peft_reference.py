"""Hugging Face peft as the oracle for LoRA adapters (src/sft/lora.ts, src/sft/adapter-node.ts).

Both directions, on the bundled models:
- ours-gpt2: an adapter trained by webgpu-sft (`train --strategy lora --lora-targets all-linear`, committed in
  test/fixtures/lora/ours-gpt2) loads with PeftModel.from_pretrained unchanged; its logits are stored.
- peft-gpt2, peft-llama: adapters made by peft itself (random A and B, init_lora_weights=False, so the adapter moves the
  logits a lot), saved with save_pretrained into test/fixtures/lora/; Llama with rsLoRA, every linear layer and
  layers_to_transform [0, 2]. Their logits are stored for the engine to reproduce after importing them.
- For each, merge_and_unload's logits are checked against the adapter's here (the engine's merge is tested against
  the same stored logits).
Logits are computed in float64 on fixed ids -> test/fixtures/lora-logits.safetensors.
- One full-batch AdamW step (float64, dropout 0, clip 1.0, decay 0.01) from each peft adapter on a fixed batch: the
  adapter's tensors after it -> test/fixtures/lora-step.safetensors (the engine's step must match, the base untouched).
Run: XDG_RUNTIME_DIR=/tmp/xdg /work/venv-hf/bin/python tools/peft_reference.py (set-up: tools/README.md, plus peft).
"""
import json
import os
import sys

import numpy as np
import torch
from peft import LoraConfig, PeftModel, get_peft_model
from transformers import AutoModelForCausalLM

sys.path.insert(0, os.path.dirname(__file__))
import st  # noqa: E402

FIX = 'test/fixtures/lora'
GPT2, LLAMA = 'assets/gpt2-shakespeare', 'assets/stories260K-hf'


def logits(model, ids):
    with torch.no_grad():
        return model(torch.tensor([ids])).logits[0].double().numpy()


def base(folder):
    return AutoModelForCausalLM.from_pretrained(folder, torch_dtype=torch.float64).eval()


def check_merge(peft_model, ids, want):
    merged = peft_model.merge_and_unload()
    got = logits(merged, ids)
    rel = np.linalg.norm(got - want) / np.linalg.norm(want)
    assert rel < 1e-10, f'merge_and_unload differs: {rel}'


def check_ours_loads_cleanly():
    """The engine's adapter: no missing or unexpected keys when peft sets its state dict."""
    from peft import set_peft_model_state_dict
    from safetensors.torch import load_file
    model = PeftModel.from_pretrained(base(GPT2), f'{FIX}/ours-gpt2')
    result = set_peft_model_state_dict(model, load_file(f'{FIX}/ours-gpt2/adapter_model.safetensors'))
    missing = [k for k in result.missing_keys if 'lora_' in k]
    assert not result.unexpected_keys and not missing, (result.unexpected_keys, missing)
    print('ours-gpt2: peft sets every adapter key, none unexpected')


def check_engine_merge(name, folder, ids, want):
    """`webgpu-sft merge` writes a folder that transformers loads as a plain model with base + adapter's logits."""
    import subprocess
    import tempfile
    out = tempfile.mkdtemp() + '/merged'
    subprocess.run(['node', 'bin/webgpu-sft.js', 'merge', '--model', folder, '--adapter', f'{FIX}/{name}', '--out', out],
                   check=True, capture_output=True)
    got = logits(base(out), ids)
    rel = np.linalg.norm(got - want) / np.linalg.norm(want)
    assert rel < 1e-6, f'{name}: the engine\'s merged folder in transformers differs: rel L2 {rel}'
    print(f'{name}: the engine\'s merged folder in transformers: rel L2 {rel:.2e} to base + adapter')


def make_peft_adapter(folder, name, config, seed):
    torch.manual_seed(seed)
    model = get_peft_model(base(folder), config)
    # peft's random init (init_lora_weights=False) moves a small model's logits by far more than training would, to
    # losses of 10-14 where the float32 gradients lose digits; B scaled down keeps a clear but realistic effect.
    with torch.no_grad():
        for n, p in model.named_parameters():
            if 'lora_B' in n:
                p.mul_(B_SCALE)
    model.save_pretrained(f'{FIX}/{name}')
    # save_pretrained writes a README.md model card; the adapter is the config and the weights. target_modules is a
    # set in peft, saved in hash order: sorted here so that a rerun writes the same bytes.
    os.remove(f'{FIX}/{name}/README.md')
    path = f'{FIX}/{name}/adapter_config.json'
    with open(path) as f:
        config = json.load(f)
    config['target_modules'] = sorted(config['target_modules'])
    with open(path, 'w') as f:
        json.dump(config, f, indent=2, sort_keys=True)
        f.write('\n')


B_SCALE = 0.25  # peft-made adapters: B scaled after peft's random init (see make_peft_adapter)
STEP = {'lr': 1e-3, 'betas': (0.9, 0.999), 'eps': 1e-8, 'weight_decay': 0.01, 'max_norm': 1.0}


def one_step(folder, name, rng, vocab):
    """One full-batch AdamW step of peft's adapter `name` on `folder` in float64, dropout 0, clip 1.0: the adapter's
    tensors after it (peft's names), the batch and the loss. Labels are aligned (logits[b][t] vs labels[b][t])."""
    ids = rng.randint(0, vocab, size=(2, 12))
    labels = np.full_like(ids, -100)
    labels[:, :-1] = ids[:, 1:]
    labels[0, :3] = -100  # a masked prompt
    model = PeftModel.from_pretrained(base(folder), f'{FIX}/{name}', is_trainable=True).double().train()
    params = [p for n, p in model.named_parameters() if p.requires_grad]
    assert params and all('lora_' in n for n, p in model.named_parameters() if p.requires_grad)
    opt = torch.optim.AdamW(params, lr=STEP['lr'], betas=STEP['betas'], eps=STEP['eps'], weight_decay=STEP['weight_decay'])
    out = model(torch.tensor(ids)).logits
    loss = torch.nn.functional.cross_entropy(out.reshape(-1, out.shape[-1]), torch.tensor(labels).reshape(-1), ignore_index=-100)
    loss.backward()
    grads = {f'{name}.grad.{n.replace(".default", "")}': p.grad.detach().numpy().copy()
             for n, p in model.named_parameters() if p.requires_grad}
    torch.nn.utils.clip_grad_norm_(params, STEP['max_norm'])
    opt.step()
    state = {k: v for k, v in model.state_dict().items() if 'lora_' in k}
    tensors = {f'{name}.step.{k.replace(".default", "")}': v.detach().numpy() for k, v in state.items()}
    tensors.update(grads)
    tensors[f'{name}.step.ids'] = ids.astype(np.int32)
    tensors[f'{name}.step.labels'] = labels.astype(np.int32)
    print(f'{name}: one AdamW step, loss {loss.item():.6f}, {len(state)} adapter tensors')
    return tensors


def main():
    rng = np.random.RandomState(0)
    out = {}
    make_peft_adapter(GPT2, 'peft-gpt2', LoraConfig(r=4, lora_alpha=8, lora_dropout=0.0, target_modules=['c_attn', 'c_proj'],
                                                  fan_in_fan_out=True, init_lora_weights=False), seed=1)
    make_peft_adapter(LLAMA, 'peft-llama', LoraConfig(
        r=4, lora_alpha=16, lora_dropout=0.0, use_rslora=True, layers_to_transform=[0, 2],
        target_modules=['q_proj', 'k_proj', 'v_proj', 'o_proj', 'gate_proj', 'up_proj', 'down_proj'],
        init_lora_weights=False), seed=2)
    check_ours_loads_cleanly()
    for name, folder, vocab in [('ours-gpt2', GPT2, 50257), ('peft-gpt2', GPT2, 50257), ('peft-llama', LLAMA, 512)]:
        ids = [int(x) for x in rng.randint(0, vocab, size=7)]
        model = PeftModel.from_pretrained(base(folder), f'{FIX}/{name}').eval()
        model = model.double()
        want = logits(model, ids)
        plain = logits(base(folder), ids)
        moved = np.linalg.norm(want - plain) / np.linalg.norm(plain)
        check_merge(model, ids, want)
        check_engine_merge(name, folder, ids, want)
        out[f'{name}.ids'] = np.array(ids, dtype=np.int32)
        out[f'{name}.logits'] = want.astype(np.float32)  # float64 maths, stored in f32 (6e-8 relative)
        print(f'{name}: {len(ids)} ids, logits {want.shape}, adapter moves them by rel L2 {moved:.3e}; merge agrees')
    st.save('test/fixtures/lora-logits.safetensors', out, {'source': 'peft ' + __import__('peft').__version__})
    print('wrote test/fixtures/lora-logits.safetensors')
    steps = {**one_step(GPT2, 'peft-gpt2', rng, 50257), **one_step(LLAMA, 'peft-llama', rng, 512)}
    meta = {'source': 'peft ' + __import__('peft').__version__, 'hyper': json.dumps(STEP)}
    st.save('test/fixtures/lora-step.safetensors', steps, meta)
    print('wrote test/fixtures/lora-step.safetensors')


if __name__ == '__main__':
    main()
