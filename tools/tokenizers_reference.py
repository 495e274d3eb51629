"""Hugging Face `tokenizers` ids and offsets for test/fixtures/tokenizers/reference.json
(test/tokenizers/tokenizer-json-oracle.test.ts).

Tokenizers: Qwen3's tokenizer.json (test/fixtures/tokenizers/qwen3), GPT-2's tokenizer.json as transformers'
converter writes it (built here from assets/gpt2-shakespeare vocab.json + merges.txt), variants of it (normalizers,
pre-tokenizers, post-processors, added tokens; only their pipeline is stored, the test puts GPT-2's model under
it), and stories260K's SentencePiece tokenizer.json (Llama form, built here from assets/stories260K-hf/tokenizer.model
with transformers' SentencePieceExtractor merges; stored whole, it is small). For every string: ids and offsets
without special tokens, and `ids_special` with them where the post-processor adds some. Offsets are converted
from the library's code points to UTF-16 code units (JavaScript string indices).

Run: XDG_RUNTIME_DIR=/tmp/xdg /work/venv-hf/bin/python tools/tokenizers_reference.py
"""
import json
import random

from tokenizers import AddedToken, Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, processors
from transformers.convert_slow_tokenizer import SentencePieceExtractor

ROOT = __file__.rsplit("/tools/", 1)[0]
OUT = f"{ROOT}/test/fixtures/tokenizers/reference.json"
GPT2 = f"{ROOT}/assets/gpt2-shakespeare"
STORIES = f"{ROOT}/assets/stories260K-hf/tokenizer.model"
LLAMA3_SPLIT = (
    r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+"
    r"|\s+(?!\S)|\s+"
)
POSSESSIVE_SPLIT = r"[^\r\n\p{L}\p{N}]?+\p{L}++|\p{N}{1,3}+| ?(?>[^\s\p{L}\p{N}]+)[\r\n]*|\s*[\r\n]|\s+(?!\S)|\s+"
ESCAPES_SPLIT = r"\d+|\w+|(?i:th|qu)|[\x{4e00}-\x{9fff}]+|\s+|."

FIXED = [
    "",
    " ",
    "Hello world",
    "Hello, world! How are you?",
    "  leading and trailing spaces  ",
    "tabs\tand\t\ttabs\n\nnew\r\nlines\n",
    "I'm sure they'll say we've done it, DON'T YOU'RE?",
    "12345 and 3.14159 and 1,000,000 and ١٢٣ and ⅷ and ½",
    "emoji 🤗🤗 👩‍👩‍👧 ❤️ 🇯🇵 flags",
    "é composed vs e\u0301 decomposed, A\u030a vs Å, \u1100\u1161\u11a8 jamo, ﬁ ligature, ²",
    "Ünïcödé ÀÉÎÕÜ İstanbul ß straße",
    "日本語のテキストと中文文本和한국어",
    "Русский текст и ελληνικά",
    "العربية والعبرية עברית",
    "हिन्दी और தமிழ் และภาษาไทย",
    "<|endoftext|>",
    "before<|endoftext|>after",
    "a <|endoftext|> b <|endoftext|><|endoftext|>c",
    "<|im_start|>user\nHi there<|im_end|>\n<|im_start|>assistant\n<think>\n\n</think>\n\nHello!<|im_end|>",
    "x" * 300,
    "supercalifragilisticexpialidocious" * 8,
    "https://example.com/path?query=1&b=2#frag",
    "def f(x):\n    return x ** 2  # comment\n\n\n",
    "    indented\n        more\n\t\tmixed \t whitespace \u00a0nbsp\u3000ideographic\u2028sep\u0085nel",
    "CamelCaseWordsAndALLCAPS and snake_case_words",
    "\u200b zero width \ufeff bom \u00ad soft hyphen",
    "!!!???...---___***",
    "'s 't 're 've 'm 'll 'd 'S 'T 'RE",
    "ΑΒΓ αβγ ǅ ǆ ﬀ",
    "a\u0308\u0301 o\u0323\u0302 multiple combining",
]


def random_strings(count, seed):
    rng = random.Random(seed)
    alphabet = (
        list("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789")
        + list(" \t\n\r  .,;:!?'\"-()[]{}<>/\\@#$%^&*_+=|~`")
        + list("éèêëàâäôöûüçñÅåØøßİıŁł")
        + ["e\u0301", "a\u0308", "\u0301", "\u00a0", "\u3000", "\u2028", "\u0085"]
        + list("日本語中文한국어Русскийελληνικάالعربيةעבריתहिन्दीภาษาไทย")
        + ["🤗", "👩‍👩‍👧", "❤️", "😀", "١", "٣", "½", "²", "ﬁ", "Ⅷ"]
        + ["<|endoftext|>", "<|im_start|>", "<|im_end|>", "<think>", "<s>", "</s>"]
        + ["'s", "'ll", "'RE", "  ", "\n\n", "\t\t", "123", "2024"]
    )
    out = []
    for _ in range(count):
        n = rng.choice([1, 2, 3, 5, 8, 13, 21, 40, 80])
        words = []
        for _ in range(n):
            if rng.random() < 0.5:
                words.append(rng.choice(alphabet))
            else:
                words.append("".join(rng.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(rng.randint(1, 12))))
        out.append("".join(words) if rng.random() < 0.5 else " ".join(words))
    return out


def utf16_offsets(text, offsets):
    units = [0]
    for ch in text:
        units.append(units[-1] + (2 if ord(ch) > 0xFFFF else 1))
    return [[units[a], units[b]] for a, b in offsets]


def run(tokenizer, texts, special):
    cases = []
    for text in texts:
        e = tokenizer.encode(text, add_special_tokens=False)
        case = {"ids": e.ids, "offsets": utf16_offsets(text, e.offsets)}
        if special:
            case["ids_special"] = tokenizer.encode(text, add_special_tokens=True).ids
        cases.append(case)
    return cases


def gpt2_json():
    bpe = models.BPE.from_file(f"{GPT2}/vocab.json", f"{GPT2}/merges.txt")
    t = Tokenizer(bpe)
    t.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, trim_offsets=True, use_regex=True)
    t.post_processor = processors.ByteLevel(trim_offsets=False)
    t.decoder = decoders.ByteLevel()
    t.add_special_tokens([AddedToken("<|endoftext|>", special=True, normalized=False)])
    return json.loads(t.to_str())


def variant(base, normalizer=None, pre=None, post=None, added=()):
    t = Tokenizer.from_str(json.dumps(base))
    t.normalizer = normalizer
    if pre is not None:
        t.pre_tokenizer = pre
    if post is not None:
        t.post_processor = post
    for token in added:
        t.add_tokens([token]) if not token.special else t.add_special_tokens([token])
    return t


def byte_level(**kw):
    return pre_tokenizers.ByteLevel(**{"add_prefix_space": False, "use_regex": False, **kw})


def split(pattern, behavior="isolated", invert=False):
    return pre_tokenizers.Split(Regex(pattern), behavior=behavior, invert=invert)


def variants(base):
    seq = pre_tokenizers.Sequence
    eot = "<|endoftext|>"
    return {
        "gpt2-trim-offsets": variant(base, post=processors.ByteLevel(trim_offsets=True)),
        "gpt2-add-prefix-space": variant(
            base,
            pre=pre_tokenizers.ByteLevel(add_prefix_space=True, use_regex=True),
            post=processors.ByteLevel(add_prefix_space=True, trim_offsets=True),
        ),
        "digits-individual": variant(base, pre=seq([pre_tokenizers.Digits(individual_digits=True), byte_level(use_regex=True)])),
        "digits-contiguous": variant(base, pre=seq([pre_tokenizers.Digits(individual_digits=False), byte_level(use_regex=True)])),
        "lowercase-nfkc": variant(base, normalizer=normalizers.Sequence([normalizers.NFKC(), normalizers.Lowercase()])),
        "nfd-replace-strip": variant(
            base,
            normalizer=normalizers.Sequence(
                [normalizers.NFD(), normalizers.Replace(Regex(r"\s+"), " "), normalizers.Replace("ab", "X"), normalizers.Strip()]
            ),
        ),
        "nfkd-prepend": variant(base, normalizer=normalizers.Sequence([normalizers.NFKD(), normalizers.Prepend("_")])),
        "llama3-split": variant(
            base,
            normalizer=normalizers.NFC(),
            pre=seq([split(LLAMA3_SPLIT), byte_level()]),
            post=processors.TemplateProcessing(single=f"{eot} $A", special_tokens=[(eot, 50256)]),
        ),
        "possessive-atomic-split": variant(base, pre=seq([split(POSSESSIVE_SPLIT), byte_level()])),
        "escapes-split": variant(base, pre=seq([split(ESCAPES_SPLIT), byte_level()])),
        "split-behaviors": variant(
            base,
            pre=seq(
                [
                    split(r"\s+", "merged_with_previous"),
                    split(r"[.,!?]", "merged_with_next"),
                    split(r"\d", "contiguous"),
                    split(r"[aeiou]", "removed"),
                    split(r"\p{Lu}", "isolated", invert=True),
                    byte_level(),
                ]
            ),
        ),
        "roberta-added": variant(
            base,
            post=processors.RobertaProcessing(("<|endoftext|>", 50256), ("<|endoftext|>", 50256), trim_offsets=True, add_prefix_space=False),
            added=[
                AddedToken("<think>", special=False, normalized=False, lstrip=True, rstrip=True),
                AddedToken("[MASK]", special=True, normalized=False, lstrip=True),
            ],
        ),
        "sequence-post": variant(
            base,
            pre=pre_tokenizers.ByteLevel(add_prefix_space=True, use_regex=True),
            post=processors.Sequence(
                [processors.ByteLevel(trim_offsets=True, add_prefix_space=True), processors.TemplateProcessing(single=f"$A {eot}", special_tokens=[(eot, 50256)])]
            ),
        ),
    }


def stories_json():
    ex = SentencePieceExtractor(STORIES).extract(None)
    vocab, merges = ex["vocab"], ex["merges"]
    t = Tokenizer(models.BPE(vocab, merges, unk_token="<unk>", fuse_unk=True, byte_fallback=True))
    t.normalizer = normalizers.Sequence([normalizers.Prepend("▁"), normalizers.Replace(" ", "▁")])
    t.decoder = decoders.Sequence(
        [decoders.Replace("▁", " "), decoders.ByteFallback(), decoders.Fuse(), decoders.Strip(" ", 1, 0)]
    )
    t.add_special_tokens([AddedToken(s, special=True, normalized=False) for s in ["<unk>", "<s>", "</s>"]])
    t.post_processor = processors.TemplateProcessing(single="<s> $A", special_tokens=[("<s>", 1)])
    return t


def main():
    texts = FIXED + random_strings(320, 15)
    qwen3 = Tokenizer.from_file(f"{ROOT}/test/fixtures/tokenizers/qwen3/tokenizer.json")
    base = gpt2_json()
    gpt2 = Tokenizer.from_str(json.dumps(base))
    stories = stories_json()
    out = {
        "generator": "tools/tokenizers_reference.py",
        "texts": texts,
        "tokenizers": {
            "qwen3": {"cases": run(qwen3, texts, False)},
            "gpt2": {"pipeline": pipeline(base), "cases": run(gpt2, texts, False)},
            "stories260K-sentencepiece": {"json": json.loads(stories.to_str()), "cases": run(stories, texts, True)},
        },
    }
    for name, t in variants(base).items():
        count = 120 if name.startswith("gpt2-") else 150
        spec = json.loads(t.to_str())
        has_special = name in ("llama3-split", "roberta-added", "sequence-post")
        out["tokenizers"][name] = {"pipeline": pipeline(spec), "count": count, "cases": run(t, texts[:count], has_special)}
    with open(OUT, "w", encoding="utf-8") as f:
        json.dump(out, f, ensure_ascii=False, separators=(",", ":"))
    for name, v in out["tokenizers"].items():
        print(name, len(v["cases"]), "strings")


def pipeline(spec):
    return {k: v for k, v in spec.items() if k not in ("model", "version", "truncation", "padding")}


if __name__ == "__main__":
    main()
