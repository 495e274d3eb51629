"""Reference GPT-2 byte-level BPE token ids for test/fixtures/gpt2-tokenizer.json (test/tokenizers/gpt2-bpe.test.ts).

An independent re-implementation of the published GPT-2 encoder: split the text with the GPT-2 regex (the `regex`
module, for \\p{L} / \\p{N}), map each UTF-8 byte to a printable character, merge adjacent pairs by merges.txt rank
(lowest first, every occurrence at once), look the symbols up in vocab.json. `<|endoftext|>` in the text is a special
token (50256), as with Hugging Face's default; `ids_plain` (only for texts that contain it) encodes it as plain text.

Input: a JSON list of strings, or of {"text": ...} objects (so the fixture itself can be the input).
Needs python3-regex (`apt-get update && apt-get install -y python3-regex`, or `pip install regex`). Re-run with:
    python3 tools/gpt2_tokenize_reference.py test/fixtures/gpt2-tokenizer.json test/fixtures/gpt2-tokenizer.json
"""
import json
import sys

import regex

ASSETS = "/work/main/assets/gpt2-shakespeare"
SPECIAL = "<|endoftext|>"
SPLIT = regex.compile(r"""'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+""")


def byte_alphabet():
    """Byte -> character: printable Latin-1 bytes stand for themselves, the other 68 go to 256, 257, ... in order."""
    keep = [b for b in range(256) if 33 <= b <= 126 or 161 <= b <= 172 or 174 <= b <= 255]
    rest = [b for b in range(256) if b not in keep]
    return {**{b: chr(b) for b in keep}, **{b: chr(256 + k) for k, b in enumerate(rest)}}


def load():
    with open(f"{ASSETS}/vocab.json", encoding="utf-8") as f:
        vocab = json.load(f)
    with open(f"{ASSETS}/merges.txt", encoding="utf-8") as f:
        rows = [line for line in f.read().split("\n")[1:] if line]
    rank = {tuple(row.split(" ")): r for r, row in enumerate(rows)}
    return vocab, rank


def bpe(symbols, rank):
    while len(symbols) > 1:
        pairs = set(zip(symbols, symbols[1:]))
        best = min(pairs, key=lambda p: rank.get(p, float("inf")))
        if best not in rank:
            return symbols
        out, i = [], 0
        while i < len(symbols):
            if symbols[i : i + 2] == list(best):
                out.append(best[0] + best[1])
                i += 2
            else:
                out.append(symbols[i])
                i += 1
        symbols = out
    return symbols


def encode_plain(text, vocab, rank, alphabet):
    ids = []
    for piece in SPLIT.findall(text):
        symbols = [alphabet[b] for b in piece.encode("utf-8")]
        ids += [vocab[s] for s in bpe(symbols, rank)]
    return ids


def encode(text, vocab, rank, alphabet):
    ids = []
    for k, part in enumerate(text.split(SPECIAL)):
        if k > 0:
            ids.append(vocab[SPECIAL])
        ids += encode_plain(part, vocab, rank, alphabet)
    return ids


def main(src, dst):
    vocab, rank = load()
    alphabet = byte_alphabet()
    with open(src, encoding="utf-8") as f:
        texts = [t if isinstance(t, str) else t["text"] for t in json.load(f)]
    cases = []
    for text in texts:
        case = {"text": text, "ids": encode(text, vocab, rank, alphabet)}
        if SPECIAL in text:
            case["ids_plain"] = encode_plain(text, vocab, rank, alphabet)
        cases.append(case)
    with open(dst, "w", encoding="utf-8") as f:
        f.write("[\n" + ",\n".join(json.dumps(c, ensure_ascii=True) for c in cases) + "\n]\n")
    print(f"{dst}: {len(cases)} texts, {sum(len(c['ids']) for c in cases)} ids")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
