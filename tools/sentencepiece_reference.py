#!/usr/bin/python3
"""Reference SentencePiece ids for test/fixtures/sentencepiece.json (test/tokenizers/sentencepiece.test.ts).

The oracle is the real sentencepiece library (Debian python3-sentencepiece 0.1.97), run on
assets/stories260K-hf/tokenizer.model (BPE, byte fallback, remove_extra_whitespaces on) and on variants that reach the
other code paths:
  stories260K            the file as shipped
  stories260K-llama2     the same pieces with remove_extra_whitespaces off (Llama 2's normalizer)
  stories260K-unused     '▁the', 'he', 'in', '▁a' retyped UNUSED (merged through, then split back)
  unigram-toy            UNIGRAM trained here, byte fallback, user-defined '<tool>'
  unigram-nofallback     UNIGRAM trained here, no byte fallback (runs of unknown characters fuse into one <unk>)
  bpe-nofallback         BPE trained here, no byte fallback, no dummy prefix, whitespace kept, control '<ctl>',
                         user-defined '@@'
Models other than the shipped file are stored in the fixture as base64. Per model: `encode` = [{text, ids}] with
sp.encode(text) (no BOS), `decode` = [{ids, text}] with sp.decode(ids) (hand-picked byte runs, control and unknown ids,
and seeded random id lists).

Needs: apt-get install -y python3-sentencepiece python3-protobuf (protobuf only to write the retyped variants).
Run:   /usr/bin/python3 tools/sentencepiece_reference.py      (~1 s; deterministic, re-running gives the same file)
"""
import base64
import io
import json
import os
import random

import sentencepiece as spm
from sentencepiece import sentencepiece_model_pb2 as pb

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
STORIES = "assets/stories260K-hf/tokenizer.model"
OUT = "test/fixtures/sentencepiece.json"

TEXTS = [
    "",
    "Once upon a time, there was a little girl named Lily.",
    "She loved to play outside in the park. One day, she saw a big, red ball!",
    '"Can I have it?" asked Tom. His mom said, "Yes, but share it with Sue."',
    "hello",
    " hello",
    "hello ",
    "  hello   world  ",
    "a  b   c    d",
    " ",
    "   ",
    "\n",
    "line one\nline two\n\nline four",
    "tab\tseparated\tvalues",
    " \t leading tab",
    "trailing newline\n",
    "caf\u00e9 na\u00efve r\u00e9sum\u00e9 \u00fcber",
    "e\u0301 (combining acute)",
    "\u4e2d\u6587\u5b57 and \u65e5\u672c\u8a9e",
    "emoji \U0001f600 \U0001f44d\U0001f3fd \U0001f468\u200d\U0001f469\u200d\U0001f467 \U0001f1eb\U0001f1f7",
    "\U0001d400\U00020000 astral",
    "0123456789",
    "The year 2024 had 366 days, 12 months and 3.14 pies.",
    "!@#$%^&*()_+-=[]{}|;':\",./<>?`~",
    "<s> and </s> and <unk> are plain text here",
    "<0x41> looks like a byte piece",
    "\u2581 already escaped \u2581\u2581",
    "\u2581",
    "x\u2581",
    "nbsp\u00a0here and ideographic\u3000space",
    "\u0000 nul and \u007f del",
    "\ufeffBOM at start",
    "\u00bd \u0663 \u2167 numbers",
    "I'm sure they'll say it's fine, isn't it?",
    "\u201cQuoted\u201d \u2018text\u2019 \u2013 dash \u2014 more\u2026",
    "<tool> call <tool><tool> and @@ and <ctl>",
    "a" * 50,
    "abababababababababab the the the the",
    "\r\nwindows line\r\n",
    "Lily and Ben were best friends. They liked to play in the sun.\n\nThe end.",
]

POOL = [" ", "  ", "\t", "\n", "a", "the", "Lily", "e", "\u00e9", "\u4e2d", "\U0001f600", "0", "9", ".", ",", "!",
        "\u2581", "<s>", "<tool>", "@@", "\u00a0", "'", "\u2019", "\u200a", "play", "ing", "\u0000"]

CORPUS = """Once upon a time, in a small town, there lived a kind old man named Sam.
Every morning Sam walked to the river with his dog, Max, and they watched the fish jump.
One day Max found a shiny red stone under a tree. "Look!" said Sam. "It is so pretty!"
The children in the town came to see the stone. They laughed and played until the sun went down.
At night Sam put the stone on his window, and it glowed like a little moon.
Lily liked to paint pictures of birds, flowers and the blue sky.
Her brother Tim wanted to build a boat out of boxes, so they worked together all afternoon.
When it started to rain, they ran inside and drank warm milk with their mom.
The cat jumped on the table and knocked over a cup. Everyone smiled.
In 2023 the town had 12 shops, 3 parks and 1 big library with 4500 books.
They counted: one, two, three, four, five, six, seven, eight, nine, ten!
"Why is the sky blue?" asked Tim. Mom said, "Because the air scatters the light."
The end of the story was happy, and everyone went to sleep with a smile.""".split("\n")


def train(**kw):
    f = io.BytesIO()
    lines = [f"{line} {k}" if k else line for k in range(4) for line in CORPUS]
    spm.SentencePieceTrainer.train(sentence_iterator=iter(lines), model_writer=f, normalization_rule_name="identity",
                                   hard_vocab_limit=False, minloglevel=2, num_threads=1, shuffle_input_sentence=False,
                                   **kw)
    return f.getvalue()


def variant(data, edit):
    m = pb.ModelProto()
    m.ParseFromString(data)
    edit(m)
    return m.SerializeToString()


def retype_unused(m):
    for p in m.pieces:
        if p.piece in ("\u2581the", "he", "in", "\u2581a"):
            p.type = pb.ModelProto.SentencePiece.UNUSED


def decode_cases(sp, rng):
    V = sp.vocab_size()
    byte = {int(sp.id_to_piece(i)[3:5], 16): i for i in range(V) if sp.is_byte(i)}
    word = sp.encode("Once upon a time")
    cases = [[], [sp.bos_id()] + word + [sp.eos_id()], [sp.unk_id()], [sp.unk_id()] + word, word + [sp.unk_id()] * 2,
             [sp.piece_to_id("\u2581")] + word]
    if byte:
        runs = [[0xE4, 0xB8], [0xE4, 0xB8, 0xAD], [0xFF], [0xC0, 0x80], [0xED, 0xA0, 0x80], [0xEF, 0xBF, 0xBD],
                [0xF4, 0x90, 0x80, 0x80], [0xF0, 0x9F, 0x98], [0x20], [0x80, 0x41, 0xE2, 0x96, 0x81]]
        cases += [[byte[b] for b in run] for run in runs]
        cases += [[byte[0xE4], byte[0xB8]] + word, [byte[0x20]] + word, word + [byte[0xF0], byte[0x9F]] + word]
    cases += [[rng.randrange(V) for _ in range(rng.randrange(1, 16))] for _ in range(25)]
    return [{"ids": ids, "text": sp.decode(ids)} for ids in cases]


def model_entry(name, data, source, rng):
    sp = spm.SentencePieceProcessor(model_proto=data)
    texts = TEXTS + ["".join(rng.choice(POOL) for _ in range(rng.randrange(1, 25))) for _ in range(30)]
    entry = {"name": name, "source": source, "vocab_size": sp.vocab_size(), "unk_id": sp.unk_id(),
             "bos_id": sp.bos_id(), "eos_id": sp.eos_id()}
    if source is None:
        entry["model_base64"] = base64.b64encode(data).decode("ascii")
    entry["encode"] = [{"text": t, "ids": sp.encode(t)} for t in texts]
    entry["decode"] = decode_cases(sp, rng)
    return entry


def dump(doc):
    """One case per line, so a diff shows which string changed."""
    lines = ["{", f'  "generator": {json.dumps(doc["generator"])},', '  "models": [']
    for m, model in enumerate(doc["models"]):
        head = {k: v for k, v in model.items() if k not in ("encode", "decode")}
        lines.append("    {" + json.dumps(head, ensure_ascii=False)[1:-1] + ",")
        for key in ("encode", "decode"):
            lines.append(f'     "{key}": [')
            rows = [json.dumps(c, ensure_ascii=False) for c in model[key]]
            lines += [f"      {r}," for r in rows[:-1]] + [f"      {rows[-1]}"]
            lines.append("     ]," if key == "encode" else "     ]")
        lines.append("    }," if m + 1 < len(doc["models"]) else "    }")
    return "\n".join(lines + ["  ]", "}"]) + "\n"


def main():
    os.chdir(ROOT)
    rng = random.Random(0)
    with open(STORIES, "rb") as f:
        stories = f.read()
    no_collapse = variant(stories, lambda m: setattr(m.normalizer_spec, "remove_extra_whitespaces", False))
    models = [
        ("stories260K", stories, STORIES),
        ("stories260K-llama2", no_collapse, None),
        ("stories260K-unused", variant(stories, retype_unused), None),
        ("unigram-toy", train(model_type="unigram", vocab_size=420, byte_fallback=True,
                              user_defined_symbols=["<tool>"]), None),
        ("unigram-nofallback", train(model_type="unigram", vocab_size=150, character_coverage=0.98), None),
        ("bpe-nofallback", train(model_type="bpe", vocab_size=150, add_dummy_prefix=False,
                                 remove_extra_whitespaces=False, control_symbols=["<ctl>"],
                                 user_defined_symbols=["@@"], character_coverage=0.98), None),
    ]
    doc = {"generator": f"tools/sentencepiece_reference.py (sentencepiece {spm.__version__})",
           "models": [model_entry(name, data, source, rng) for name, data, source in models]}
    with open(OUT, "w", encoding="utf-8") as f:
        f.write(dump(doc))
    for m in doc["models"]:
        print(f'{m["name"]}: vocab {m["vocab_size"]}, {len(m["encode"])} encode + {len(m["decode"])} decode cases')
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
