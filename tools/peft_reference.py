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


def make_peft_adapter(folder, name, config, seed):
    torch.manual_seed(seed)
    model = get_peft_model(base(folder), config)
    model.save_pretrained(f'{FIX}/{name}')
    # save_pretrained writes a README.md model card; the adapter is the config and the weights.
    os.remove(f'{FIX}/{name}/README.md')


def main():
    rng = np.random.RandomState(0)
    out = {}
    make_peft_adapter(GPT2, 'peft-gpt2', LoraConfig(r=4, lora_alpha=8, lora_dropout=0.0, target_modules=['c_attn', 'c_proj'],
                                                  fan_in_fan_out=True, init_lora_weights=False), seed=1)
    make_peft_adapter(LLAMA, 'peft-llama', LoraConfig(
        r=4, lora_alpha=16, lora_dropout=0.0, use_rslora=True, layers_to_transform=[0, 2],
        target_modules=['q_proj', 'k_proj', 'v_proj', 'o_proj', 'gate_proj', 'up_proj', 'down_proj'],
        init_lora_weights=False), seed=2)
    for name, folder, vocab in [('ours-gpt2', GPT2, 50257), ('peft-gpt2', GPT2, 50257), ('peft-llama', LLAMA, 512)]:
        ids = [int(x) for x in rng.randint(0, vocab, size=11)]
        model = PeftModel.from_pretrained(base(folder), f'{FIX}/{name}').eval()
        model = model.double()
        want = logits(model, ids)
        plain = logits(base(folder), ids)
        moved = np.linalg.norm(want - plain) / np.linalg.norm(plain)
        check_merge(model, ids, want)
        out[f'{name}.ids'] = np.array(ids, dtype=np.int32)
        out[f'{name}.logits'] = want.astype(np.float64)
        print(f'{name}: {len(ids)} ids, logits {want.shape}, adapter moves them by rel L2 {moved:.3e}; merge agrees')
    st.save('test/fixtures/lora-logits.safetensors', out, {'source': 'peft ' + __import__('peft').__version__})
    print('wrote test/fixtures/lora-logits.safetensors')


if __name__ == '__main__':
    main()
