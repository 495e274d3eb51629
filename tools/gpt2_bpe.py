"""Minimal GPT-2 byte-level BPE encoder/decoder (vocab.json + merges.txt), for the reference scripts.

Library module (no output). Algorithm as published with GPT-2: pre-split the text with the GPT-2 regex,
map each UTF-8 byte to a printable unicode char (bytes_to_unicode), then repeatedly merge the adjacent pair
with the lowest rank in merges.txt; look the resulting symbols up in vocab.json. `<|endoftext|>` is not
special-cased on encode (never appears in our inputs). Needs `python3-regex` (\\p{L}, \\p{N} classes).
"""
import json
import os

import regex

PAT = regex.compile(r"""'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+""")


def bytes_to_unicode():
    printable = list(range(ord("!"), ord("~") + 1)) + list(range(ord("\xa1"), ord("\xac") + 1)) \
        + list(range(ord("\xae"), ord("\xff") + 1))
    table = {b: chr(b) for b in printable}
    extra = 0
    for b in range(256):
        if b not in table:
            table[b] = chr(256 + extra)
            extra += 1
    return table


class GPT2BPE:
    def __init__(self, model_dir):
        with open(os.path.join(model_dir, "vocab.json"), encoding="utf-8") as f:
            self.encoder = json.load(f)
        self.decoder = {v: k for k, v in self.encoder.items()}
        with open(os.path.join(model_dir, "merges.txt"), encoding="utf-8") as f:
            lines = f.read().split("\n")
        merges = [tuple(l.split(" ")) for l in lines[1:] if l and not l.startswith("#version")]
        self.ranks = {m: i for i, m in enumerate(merges)}
        self.byte_enc = bytes_to_unicode()
        self.byte_dec = {v: k for k, v in self.byte_enc.items()}
        self.cache = {}

    def _bpe(self, word):
        if word in self.cache:
            return self.cache[word]
        syms = list(word)
        while len(syms) > 1:
            best, best_rank = None, None
            for i in range(len(syms) - 1):
                r = self.ranks.get((syms[i], syms[i + 1]))
                if r is not None and (best_rank is None or r < best_rank):
                    best, best_rank = i, r
            if best is None:
                break
            a, b = syms[best], syms[best + 1]
            merged, i = [], 0
            while i < len(syms):  # merge every occurrence of the pair (a, b), left to right
                if i < len(syms) - 1 and syms[i] == a and syms[i + 1] == b:
                    merged.append(a + b)
                    i += 2
                else:
                    merged.append(syms[i])
                    i += 1
            syms = merged
        self.cache[word] = syms
        return syms

    def encode(self, text):
        ids = []
        for piece in PAT.findall(text):
            word = "".join(self.byte_enc[b] for b in piece.encode("utf-8"))
            ids.extend(self.encoder[s] for s in self._bpe(word))
        return ids

    def decode(self, ids):
        s = "".join(self.decoder[i] for i in ids)
        return bytes(self.byte_dec[c] for c in s).decode("utf-8", errors="replace")
