// Text from files in error messages (src/io/quote.ts, src/io/json-text.ts): quoted with controls escaped and
// cut short, JSON syntax errors by line and column without the file's text, and JSON nested 100 000 deep
// refused with the engine's own error naming the file, for every JSON reader.

import { describe, expect, it } from 'vitest';
import { InputError, WeightsError } from '../../src/util/errors.ts';
import { parseJsonText } from '../../src/io/json-text.ts';
import { blobFiles, readJsonObject } from '../../src/io/named-files.ts';
import { quote, show } from '../../src/io/quote.ts';
import { parseGpt2Config } from '../../src/models/gpt2/config.ts';
import { parseLlamaConfig } from '../../src/models/llama/config.ts';
import { parseJsonl } from '../../src/sft/jsonl.ts';
import { fromTokenizerJson } from '../../src/tokenizers/byte-level-bpe-json.ts';
import { loadTokenizerFrom } from '../../src/tokenizers/load-tokenizer.ts';
import { fromLlamaTokenizerJson } from '../../src/tokenizers/sentencepiece.ts';

const CONTROL = /[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u2028\u2029\u202e]/; // \n only before `hint:`
const PASSWD = 'root:x:0:0:root:/root:/bin/bash\ndaemon:x:1:1::/usr/sbin:/usr/sbin/nologin\n';
const DEEP = '{"a":'.repeat(100_000) + '1' + '}'.repeat(100_000);

function errorOf(f: () => unknown): Error {
  try {
    f();
  } catch (e) {
    return e as Error;
  }
  throw new Error('expected an error, got none');
}
async function asyncErrorOf(f: () => Promise<unknown>): Promise<Error> {
  return f().then(
    () => {
      throw new Error('expected an error, got none');
    },
    (e: unknown) => e as Error,
  );
}

describe('quote and show', () => {
  it('escape controls, bidi overrides, separators and lone surrogates, and cut long text', () => {
    expect(quote("it's")).toBe("'it\\'s'");
    expect(quote('a\u0000b\u001b[2J\u202e\u2028\ud800\u{e0001}')).toBe(
      "'a\\u0000b\\u001b[2J\\u202e\\u2028\\ud800\\u{e0001}'",
    );
    expect(quote('é中😀 ok', '"')).toBe('"é中😀 ok"');
    const long = quote('x'.repeat(1_000_000));
    expect(long.length).toBeLessThan(100);
    expect(long).toContain('(1000000 characters)');
    expect(show('Q4_K')).toBe('"Q4_K"');
    expect(show([1, 2])).toBe('[1,2]');
    expect(show(undefined)).toBe('nothing');
    expect(show({ 'k\u0000': [[[[[1]]]]] })).toBe('{"k\\u0000":[[[...]]]}');
    expect(show(Array(10_000).fill('abc')).length).toBeLessThanOrEqual(80);
  });
});

describe('parseJsonText', () => {
  const fail = (what: string, got: string) => new WeightsError(`f.json: ${what}, expected JSON, got ${got}`);

  it('locates syntax errors by line and column and never quotes the text', () => {
    const cases: [string, string][] = [
      [PASSWD, 'a syntax error at line 1, column 1'],
      ['{\n  "a": 1,\n  "b": tru\n}', 'a syntax error at line 3, column 11'],
      ['{"a": [1, 2', 'text that ends inside a value at line 1, column 12'],
      ['{"a": "x\u0000"}', 'a syntax error at line 1, column 9'],
      ['', 'text that ends inside a value at line 1, column 1'],
    ];
    for (const [text, got] of cases) {
      const err = errorOf(() => parseJsonText(text, fail));
      expect(err).toBeInstanceOf(WeightsError);
      expect(err.message).toBe(`f.json: not valid JSON, expected JSON, got ${got}`);
    }
  });

  it('refuses nesting past 256 levels, brackets inside strings not counted', () => {
    expect(errorOf(() => parseJsonText(DEEP, fail)).message).toBe(
      'f.json: JSON nested too deeply, expected JSON, got more than 256 levels at line 1, column 1281',
    );
    const ok = `${'['.repeat(256)}"[[[{{{\\"]]]"${']'.repeat(256)}`;
    expect(() => parseJsonText(ok, fail)).not.toThrow();
  });
});

describe('every JSON reader refuses deep nesting and file text with its own error', () => {
  const files = (name: string, text: string) => blobFiles(new Map([[name, new Blob([text])]]));

  it('config.json, tokenizer_config.json (readJsonObject) and the config parsers', async () => {
    for (const text of [DEEP, `{"model_type": ${DEEP}}`, PASSWD, `{"n_embd": "${'\\u001b'.repeat(99)}"}`]) {
      for (const name of ['config.json', 'tokenizer_config.json']) {
        const err = await asyncErrorOf(async () => {
          const raw = await readJsonObject(files(name, text), name);
          parseGpt2Config(raw, name);
        });
        expect(err, text.slice(0, 40)).toBeInstanceOf(WeightsError);
        expect(err.message.startsWith(`${name}: `)).toBe(true);
        expect(err.message).not.toMatch(/root|daemon/);
        expect(err.message).not.toMatch(CONTROL);
      }
    }
    // Parsed objects that did not come through readJsonObject: the messages still never overflow the stack.
    const deep = JSON.parse(DEEP) as Record<string, unknown>;
    expect(errorOf(() => parseGpt2Config({ model_type: deep }))).toBeInstanceOf(WeightsError);
    expect(errorOf(() => parseLlamaConfig({ model_type: 'llama', hidden_size: deep }))).toBeInstanceOf(
      WeightsError,
    );
  });

  it('tokenizer.json (GPT-2 and Llama kinds), vocab.json, and a folder loaded through loadTokenizerFrom', async () => {
    const deepType = `{"model": {"type": "BPE", "vocab": {}, "merges": []}, "pre_tokenizer": {"type": ${DEEP}}}`;
    for (const text of [DEEP, deepType, PASSWD]) {
      for (const read of [() => fromTokenizerJson(text), () => fromLlamaTokenizerJson(text)]) {
        const err = errorOf(read);
        expect(err).toBeInstanceOf(WeightsError);
        expect(err.message.startsWith('tokenizer.json')).toBe(true);
        expect(err.message).not.toMatch(/root|daemon/);
      }
      const err = await asyncErrorOf(() => loadTokenizerFrom(files('tokenizer.json', text)));
      expect(err).toBeInstanceOf(WeightsError);
      expect(err.message.startsWith('tokenizer.json')).toBe(true);
      const vocab = await asyncErrorOf(() =>
        loadTokenizerFrom(
          blobFiles(
            new Map([
              ['vocab.json', new Blob([text])],
              ['merges.txt', new Blob([''])],
            ]),
          ),
        ),
      );
      expect(vocab).toBeInstanceOf(WeightsError);
      expect(vocab.message.startsWith('vocab.json')).toBe(true);
    }
  });

  it('JSONL rows: an InputError naming file and line, without the row text', () => {
    for (const line of [DEEP, `{"text": ${DEEP}}`, PASSWD.split('\n')[0], `{"root\u0000": 1}`]) {
      const err = errorOf(() => parseJsonl(`{"text": "ok"}\n${line}\n`, 'data.jsonl'));
      expect(err).toBeInstanceOf(InputError);
      expect(err.message.startsWith('data.jsonl:2: ')).toBe(true);
      expect(err.message).not.toMatch(/root|daemon/);
      expect(err.message).not.toMatch(CONTROL);
    }
  });
});
