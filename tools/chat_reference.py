"""Chat templates and row tokenization vs TRL 1.13 / transformers 5 -> test/fixtures/chat-reference.json
(test/sft/chat-template.test.ts).

  prompt_completion  the 136 dialogue validation rows (assets/sft/dialogue/val.jsonl) through SFTTrainer's prepared
                     train_dataset (input_ids, labels != -100 from completion_mask; TRL appends EOS to the completion) for stories260K and
                     GPT-2 (assets/gpt2-shakespeare), and the token-weighted eval loss of stories260K on them
                     (transformers forward, float64 cross-entropy summed over targets / targets).
  chat               34 conversations made from the same rows (4 rows each: prompt -> user, completion -> assistant,
                     a system turn on every third) through SFTTrainer(assistant_only_loss=True): input_ids and
                     assistant_masks. Neither model has a chat template; both get the engine's fallback template
                     (src/sft/chat-template.ts) with {% generation %} around the assistant content + EOS, which is
                     what transformers' assistant mask needs. For stories260K also the token-weighted eval loss on
                     these conversations (as for prompt/completion); eval_rows holds each row's [summed cross-entropy,
                     targets]. 25 of the 34 conversations are longer than the model's 512 positions: transformers
                     runs them past its context, the engine cuts them, so tests compare the 9 that fit.
  qwen3              5 multi-turn conversations with test/fixtures/tokenizers/qwen3: apply_chat_template text (and one
                     with add_generation_prompt), ids and return_assistant_tokens_mask. The oracle template is a copy
                     of the fixture's own template with {% generation %} blocks around the assistant content and
                     around its <|im_end|> (blocks must nest in the if branches) (TRL's qwen3_training.jinja renders differently: it always writes the think block, so
                     it cannot check the model's own template).

Run: XDG_RUNTIME_DIR=/tmp/xdg /work/venv-hf/bin/python tools/chat_reference.py   (~30 s, deterministic)
"""
import json
import os
import shutil
import tempfile

import torch
from datasets import Dataset
from transformers import AutoModelForCausalLM, AutoTokenizer
from trl import SFTConfig, SFTTrainer

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "test/fixtures/chat-reference.json")
torch.manual_seed(0)

# The engine's fallback template (src/sft/chat-template.ts FALLBACK_BODY), BOS first for models that add one.
FALLBACK = (
    "{%- for message in messages %}{{ message['role'] | capitalize }}{{ ':\\n' }}"
    "{%- if message['role'] == 'assistant' %}{% generation %}{{ message['content'] + eos_token }}{% endgeneration %}"
    "{%- else %}{{ message['content'] }}{%- endif %}{{ '\\n\\n' }}{%- endfor %}"
    "{%- if add_generation_prompt %}{{ 'Assistant:\\n' }}{%- endif %}"
)

MODELS = {
    "stories260K": {
        "dir": "assets/stories260K-hf",
        "files": ["config.json", "model.safetensors", "tokenizer.model", "generation_config.json"],
        # as src/sft/tokenizer-config.ts writes it for a checkpoint
        "config": {"tokenizer_class": "LlamaTokenizer", "bos_token": "<s>", "eos_token": "</s>",
                   "add_bos_token": True, "add_eos_token": False, "legacy": False, "padding_side": "right",
                   "clean_up_tokenization_spaces": False, "chat_template": "{{ bos_token }}" + FALLBACK},
    },
    "gpt2": {
        "dir": "assets/gpt2-shakespeare",
        "files": ["config.json", "model.safetensors", "vocab.json", "merges.txt", "generation_config.json"],
        "config": {"tokenizer_class": "GPT2Tokenizer", "bos_token": "<|endoftext|>", "eos_token": "<|endoftext|>",
                   "add_bos_token": False, "add_eos_token": False, "add_prefix_space": False,
                   "padding_side": "right", "clean_up_tokenization_spaces": False, "chat_template": FALLBACK},
    },
}


def model_folder(name, tmp):
    spec = MODELS[name]
    folder = os.path.join(tmp, name)
    os.makedirs(folder)
    for f in spec["files"]:
        shutil.copy(os.path.join(ROOT, spec["dir"], f), folder)
    with open(os.path.join(folder, "tokenizer_config.json"), "w") as fh:
        json.dump(spec["config"], fh)
    return folder


def prepared(folder, rows, tmp, **kwargs):
    tok = AutoTokenizer.from_pretrained(folder)
    model = AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32)
    args = SFTConfig(output_dir=os.path.join(tmp, "out"), report_to=[], max_length=None, packing=False, bf16=False, use_cpu=True,
                     **kwargs)
    trainer = SFTTrainer(model=model, args=args, train_dataset=Dataset.from_list(rows), processing_class=tok)
    out = []
    for r in trainer.train_dataset:
        # TRL 1.13 folds completion_mask / assistant_masks into labels (-100 where the mask is 0)
        out.append({"ids": list(r["input_ids"]), "mask": [int(label != -100) for label in r["labels"]]})
    return out, model


def eval_loss(model, examples):
    model.eval()
    rows = []  # per row: [summed cross-entropy, targets], so a test may take a few rows
    with torch.no_grad():
        for e in examples:
            ids = torch.tensor([e["ids"]])
            logits = model(ids).logits[0].double()  # (T, V)
            logp = torch.log_softmax(logits[:-1], dim=-1)
            targets = torch.tensor(e["ids"][1:])
            keep = torch.tensor(e["mask"][1:]) == 1
            rows.append([-logp[keep].gather(1, targets[keep][:, None]).sum().item(), int(keep.sum())])
    total, count = sum(r[0] for r in rows), sum(r[1] for r in rows)
    return total / count, count, rows


def conversations(rows):
    out = []
    for k in range(0, len(rows), 4):
        messages = [{"role": "system", "content": "A scene from Shakespeare."}] if k % 12 == 0 else []
        for r in rows[k:k + 4]:
            messages += [{"role": "user", "content": r["prompt"]}, {"role": "assistant", "content": r["completion"]}]
        out.append({"messages": messages})
    return out


QWEN_CHATS = [
    [{"role": "user", "content": "What is 2 * 3?"}, {"role": "assistant", "content": "2 * 3 = 6."}],
    [{"role": "system", "content": "You answer in one word."}, {"role": "user", "content": "Capital of France?"},
     {"role": "assistant", "content": "Paris"}, {"role": "user", "content": "And of Italy?"},
     {"role": "assistant", "content": "Rome"}],
    [{"role": "user", "content": "Say hi in three languages."},
     {"role": "assistant", "content": "Hello! Bonjour ! \u4f60\u597d\uff01 \U0001f44b"},
     {"role": "user", "content": "Thanks  (two spaces)\n\nand a blank line."},
     {"role": "assistant", "content": "You're welcome.\nBye."}],
    [{"role": "user", "content": "Write a haiku."},
     {"role": "assistant", "content": "Autumn moonlight\na worm digs silently\ninto the chestnut."},
     {"role": "user", "content": "Another."}, {"role": "assistant", "content": "An old silent pond..."},
     {"role": "user", "content": "One more, about code."},
     {"role": "assistant", "content": "Tabs or spaces, friend?\n\tindent\n    indent"}],
    [{"role": "system", "content": "Be terse."}, {"role": "user", "content": "caf\u00e9 na\u00efve"},
     {"role": "assistant", "content": "r\u00e9sum\u00e9 \u00fcber"}],
]


def qwen3_tagged(template):
    """The fixture's template with {% generation %} around each assistant content and its <|im_end|>."""
    head = "'<|im_start|>' + message.role + '\\n'"
    swaps = [
        ("{{- '<|im_start|>' + message.role + '\\n<think>\\n' + reasoning_content.strip('\\n') + '\\n</think>\\n\\n' + content.lstrip('\\n') }}",
         "{{- '<|im_start|>' + message.role + '\\n<think>\\n' + reasoning_content.strip('\\n') + '\\n</think>\\n\\n' }}"
         "{% generation %}{{- content.lstrip('\\n') }}{% endgeneration %}", 1, 1),
        ("{{- " + head + " + content }}", "{{- " + head + " }}{% generation %}{{- content }}{% endgeneration %}", 2, 2),
        ("{{- '<|im_end|>\\n' }}", "{% generation %}{{- '<|im_end|>' }}{% endgeneration %}{{- '\\n' }}", 2, 1),  # the assistant's, not the tool's
    ]
    for old, new, count, replaced in swaps:
        assert template.count(old) == count, (old, template.count(old))
        template = template.replace(old, new, replaced)
    return template


def qwen3_cases():
    tok = AutoTokenizer.from_pretrained(os.path.join(ROOT, "test/fixtures/tokenizers/qwen3"))
    tagged = qwen3_tagged(tok.chat_template)
    cases = []
    for messages in QWEN_CHATS:
        text = tok.apply_chat_template(messages, tokenize=False)
        assert text == tok.apply_chat_template(messages, tokenize=False, chat_template=tagged)
        enc = tok.apply_chat_template(messages, chat_template=tagged, return_dict=True,
                                      return_assistant_tokens_mask=True)
        cases.append({"messages": messages, "text": text, "ids": list(enc["input_ids"]),
                      "mask": list(enc["assistant_masks"])})
    prompt = tok.apply_chat_template(QWEN_CHATS[1][:-1], tokenize=False, add_generation_prompt=True)
    return {"cases": cases, "generation_prompt": {"messages": QWEN_CHATS[1][:-1], "text": prompt}}


def main():
    with open(os.path.join(ROOT, "assets/sft/dialogue/val.jsonl")) as fh:
        rows = [json.loads(line) for line in fh if line.strip()]
    chats = conversations(rows)
    out = {"fallback_template": FALLBACK, "chats": chats, "prompt_completion": {}, "chat": {}}
    with tempfile.TemporaryDirectory() as tmp:
        for name in MODELS:
            folder = model_folder(name, tmp)
            examples, model = prepared(folder, rows, tmp, completion_only_loss=True)
            entry = {"examples": examples, "targets": sum(sum(e["mask"]) for e in examples)}
            if name == "stories260K":
                loss, count, per_row = eval_loss(model, examples)
                entry["eval_loss"], entry["eval_targets"], entry["eval_rows"] = loss, count, per_row
            out["prompt_completion"][name] = entry
            examples, chat_model = prepared(folder, chats, tmp, assistant_only_loss=True)
            out["chat"][name] = {"examples": examples, "targets": sum(sum(e["mask"]) for e in examples)}
            if name == "stories260K":
                loss, count, per_row = eval_loss(chat_model, examples)
                out["chat"][name].update(eval_loss=loss, eval_targets=count, eval_rows=per_row)
            texts = AutoTokenizer.from_pretrained(folder).apply_chat_template(
                [c["messages"] for c in chats[:2]], tokenize=False)
            out["chat"][name]["texts"] = texts
            print(name, "prompt/completion targets", entry["targets"], "chat targets", out["chat"][name]["targets"],
                  "eval loss", entry.get("eval_loss"))
    out["qwen3"] = qwen3_cases()
    with open(OUT, "w") as fh:
        json.dump(out, fh, ensure_ascii=False, separators=(",", ":"))
        fh.write("\n")
    print("wrote", OUT, os.path.getsize(OUT), "bytes")


if __name__ == "__main__":
    main()
