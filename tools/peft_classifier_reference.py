"""Hugging Face peft as the oracle for LoRA classifier adapters (task_type SEQ_CLS: adapters plus the `score` head
in modules_to_save), both directions:
- ours-gpt2-cls: an adapter trained by webgpu-sft on labelled rows (`train --strategy lora` on speakers rows, committed
  in test/fixtures/lora/ours-gpt2-cls with its config.json, whose id2label gives num_labels) loads with
  PeftModel.from_pretrained over AutoModelForSequenceClassification with no missing or unexpected keys; its logits on
  fixed ids are stored.
- peft-llama-cls: an adapter made by peft itself on stories260K (random A and B, B scaled down, a random `score`),
  saved with save_pretrained into test/fixtures/lora/; its logits are stored for the engine to reproduce.
Logits in float64 on fixed ids -> test/fixtures/lora-cls-logits.safetensors, with one full-batch float64 AdamW step
(lr 1e-3, decay 0.01, clip 1.0, dropout 0) from peft-llama-cls on a fixed labelled batch: the gradients and the
adapter's and head's tensors after it (peft's saved names).
Run: XDG_RUNTIME_DIR=/tmp/xdg /work/venv-hf/bin/python tools/peft_classifier_reference.py (set-up: tools/README.md).
"""
import json
import os
import sys

import numpy as np
import torch
from peft import LoraConfig, PeftModel, get_peft_model, set_peft_model_state_dict
from safetensors.torch import load_file
from transformers import AutoModelForSequenceClassification

sys.path.insert(0, os.path.dirname(__file__))
import st  # noqa: E402

FIX = 'test/fixtures/lora'
GPT2, LLAMA = 'assets/gpt2-shakespeare', 'assets/stories260K-hf'


def classifier(folder, num_labels, pad=None):
    # No padding in these batches: the last token of each sequence is read, as the engine's lastIndex does (a batch
    # of several needs a pad id, one the ids never hold).
    return AutoModelForSequenceClassification.from_pretrained(
        folder, num_labels=num_labels, pad_token_id=pad, dtype=torch.float64).eval()


def logits(model, ids):
    with torch.no_grad():
        return model(torch.tensor([ids])).logits[0].double().numpy()


def make_peft_adapter(name, seed):
    torch.manual_seed(seed)
    model = get_peft_model(classifier(LLAMA, 3), LoraConfig(
        task_type='SEQ_CLS', r=4, lora_alpha=8, lora_dropout=0.0, target_modules=['q_proj', 'v_proj', 'down_proj'],
        init_lora_weights=False))
    with torch.no_grad():
        for n, p in model.named_parameters():
            if 'lora_B' in n:
                p.mul_(0.25)
    model.save_pretrained(f'{FIX}/{name}')
    os.remove(f'{FIX}/{name}/README.md')
    path = f'{FIX}/{name}/adapter_config.json'
    with open(path) as f:
        config = json.load(f)
    # Sets in peft, saved in hash order: sorted so that a rerun writes the same bytes.
    config['target_modules'] = sorted(config['target_modules'])
    config['modules_to_save'] = sorted(config['modules_to_save'])
    with open(path, 'w') as f:
        json.dump(config, f, indent=2, sort_keys=True)
        f.write('\n')


STEP = {'lr': 1e-3, 'betas': (0.9, 0.999), 'eps': 1e-8, 'weight_decay': 0.01, 'max_norm': 1.0}


def saved_name(n):
    """A trainable parameter's name in adapter_model.safetensors."""
    return n.replace('.modules_to_save.default', '').replace('.default', '')


def one_step(name, folder, labels, rng):
    ids = rng.randint(0, 511, size=(3, 9))
    targets = np.array([0, 2, 1])
    model = PeftModel.from_pretrained(classifier(folder, labels, pad=511), f'{FIX}/{name}', is_trainable=True).double().train()
    named = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
    assert all('lora_' in n or 'modules_to_save' in n for n, _ in named) and any('score' in n for n, _ in named)
    params = [p for _, p in named]
    opt = torch.optim.AdamW(params, lr=STEP['lr'], betas=STEP['betas'], eps=STEP['eps'], weight_decay=STEP['weight_decay'])
    loss = torch.nn.functional.cross_entropy(model(torch.tensor(ids)).logits, torch.tensor(targets))
    loss.backward()
    out = {f'{name}.grad.{saved_name(n)}': p.grad.detach().numpy().copy() for n, p in named}
    torch.nn.utils.clip_grad_norm_(params, STEP['max_norm'])
    opt.step()
    out.update({f'{name}.step.{saved_name(n)}': p.detach().numpy().copy() for n, p in named})
    out[f'{name}.step.ids'] = ids.astype(np.int32)
    out[f'{name}.step.labels'] = targets.astype(np.int32)
    print(f'{name}: one AdamW step on 3 labelled rows, loss {loss.item():.6f}, {len(named)} trainable tensors')
    return out


def main():
    rng = np.random.RandomState(7)
    make_peft_adapter('peft-llama-cls', seed=3)
    with open(f'{FIX}/ours-gpt2-cls/config.json') as f:
        ours_labels = json.load(f)['num_labels']
    out = {}
    for name, folder, labels, vocab in [('ours-gpt2-cls', GPT2, ours_labels, 50000), ('peft-llama-cls', LLAMA, 3, 512)]:
        model = PeftModel.from_pretrained(classifier(folder, labels), f'{FIX}/{name}').eval().double()
        result = set_peft_model_state_dict(model, load_file(f'{FIX}/{name}/adapter_model.safetensors'))
        missing = [k for k in result.missing_keys if 'lora_' in k or 'modules_to_save' in k]
        assert not result.unexpected_keys and not missing, (result.unexpected_keys, missing)
        plain = classifier(folder, labels)
        plain.score.weight.data.copy_(model.base_model.model.score.modules_to_save['default'].weight.data)
        for i, length in enumerate([1, 6, 19]):
            ids = [int(x) for x in rng.randint(0, vocab, size=length)]
            want = logits(model, ids)
            moved = np.linalg.norm(want - logits(plain, ids)) / np.linalg.norm(want)
            out[f'{name}.{i}.ids'] = np.array(ids, dtype=np.int32)
            out[f'{name}.{i}.logits'] = want.astype(np.float32)
            print(f'{name}: {length} ids -> logits {np.round(want, 4).tolist()}; the adapters move them by rel L2 {moved:.2e}')
        print(f'{name}: peft sets every adapter and head key, none unexpected')
    out.update(one_step('peft-llama-cls', LLAMA, 3, rng))
    meta = {'source': 'peft ' + __import__('peft').__version__, 'hyper': json.dumps(STEP)}
    st.save('test/fixtures/lora-cls-logits.safetensors', out, meta)
    print('wrote test/fixtures/lora-cls-logits.safetensors')


if __name__ == '__main__':
    main()
