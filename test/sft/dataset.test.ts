// The SFT data layer on the bundled datasets (assets/sft) with the real GPT-2 tokenizer: masks, chat template,
// padding, packing, truncation, seeded shuffles and splits, classification data, and every input error.

import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { InputError } from '../../src/util/errors.ts';
import { Gpt2Tokenizer } from '../../src/tokenizers/gpt2-bpe.ts';
import {
  tokenizeRow,
  tokenizeRows,
  truncateExamples,
  type Example,
} from '../../src/sft/dataset.ts';
import {
  splitByRatios,
} from '../../src/sft/splits.ts';
import {
  parseJsonl,
  type DataRow,
  type PromptCompletionRow,
} from '../../src/sft/jsonl.ts';
import { epochBatches, IGNORE_INDEX, lmBatches, type LmBatch } from '../../src/sft/batching.ts';
import { classificationBatches, classificationData, majorityBaseline } from '../../src/sft/classification.ts';
import { readJsonlFile } from '../../src/sft/dataset-node.ts';
import { chatTemplateFor, renderChat } from '../../src/sft/chat-template.ts';
import { loadTokenizer } from '../../src/tokenizers/load-node.ts';

const ASSETS = join(import.meta.dirname, '../../assets');
const GPT2_DIR = join(ASSETS, 'gpt2-shakespeare');
const tok = new Gpt2Tokenizer(
  readFileSync(join(GPT2_DIR, 'vocab.json'), 'utf8'),
  readFileSync(join(GPT2_DIR, 'merges.txt'), 'utf8'),
);
const EOS = tok.eosId!;
const EOS_TEXT = '<|endoftext|>';

const readData = (rel: string) => parseJsonl(readFileSync(join(ASSETS, 'sft', rel), 'utf8'), rel);
const dialogue = {
  train: readData('dialogue/train.jsonl'),
  val: readData('dialogue/val.jsonl'),
  test: readData('dialogue/test.jsonl'),
};
const speakers = {
  train: readData('speakers/train.jsonl'),
  val: readData('speakers/val.jsonl'),
  test: readData('speakers/test.jsonl'),
};
const trainExamples = tokenizeRows(dialogue.train.rows, tok);

const targetIds = (e: Example) => e.ids.filter((_, t) => e.mask[t] === 1);
const batchTargets = (batches: LmBatch[]) =>
  batches.flatMap((b) => [...b.targets].filter((t) => t !== IGNORE_INDEX));
const opts = { batchSize: 4, maxLength: 1024, packing: false, shuffle: true, seed: 7, padId: EOS };

function expectInputError(fn: () => unknown, ...parts: string[]): void {
  let error: unknown;
  try {
    fn();
  } catch (e) {
    error = e;
  }
  expect(error).toBeInstanceOf(InputError);
  for (const part of parts) expect((error as Error).message).toContain(part);
}

describe('bundled dialogue data (prompt/completion)', () => {
  it('parses the three splits with their documented row counts', () => {
    expect([dialogue.train, dialogue.val, dialogue.test].map((d) => d.rows.length)).toEqual([637, 136, 137]);
    for (const d of Object.values(dialogue)) expect(d.format).toBe('prompt-completion');
    expect(dialogue.train.rows[2].line).toBe(3);
  });

  it('masks prompts out: the targets decode to exactly the completion, then EOS', () => {
    dialogue.train.rows.forEach((row, i) => {
      const { prompt, completion } = row as PromptCompletionRow;
      const e = trainExamples[i];
      expect(e.ids.length).toBe(e.mask.length);
      expect(tok.decode(e.ids)).toBe(prompt + completion + EOS_TEXT);
      const promptLength = tok.encode(prompt).length;
      expect(e.mask.slice(0, promptLength).every((m) => m === 0)).toBe(true);
      expect(e.mask.slice(promptLength).every((m) => m === 1)).toBe(true);
      const targets = targetIds(e);
      expect(targets.at(-1)).toBe(EOS);
      expect(tok.decode(targets.slice(0, -1))).toBe(completion);
    });
  });

  it('tokenizes val and test too', () => {
    for (const d of [dialogue.val, dialogue.test]) {
      expect(tokenizeRows(d.rows, tok).every((e) => e.ids.at(-1) === EOS && e.mask.includes(1))).toBe(true);
    }
  });

  it('reports tokenization progress: every row at intervalMs 0, always (total, total) last, same examples', () => {
    const rows = dialogue.val.rows;
    const calls: [number, number][] = [];
    const examples = tokenizeRows(rows, tok, {
      onProgress: (done, total) => calls.push([done, total]),
      intervalMs: 0,
    });
    expect(examples).toEqual(tokenizeRows(rows, tok));
    expect(calls).toEqual(rows.map((_, i) => [i + 1, rows.length]));
    const throttled: [number, number][] = [];
    tokenizeRows(rows, tok, { onProgress: (done, total) => throttled.push([done, total]) });
    expect(throttled.at(-1)).toEqual([rows.length, rows.length]);
    expect(throttled.length).toBeLessThan(rows.length); // half-second steps, not one call per row
  });

  it('pads each batch to its longest example, targets shifted by one and -100 on padding', () => {
    const batches = lmBatches(trainExamples, { ...opts, shuffle: false });
    expect(batches.length).toBe(Math.ceil(637 / 4));
    expect(batches.at(-1)!.B).toBe(637 % 4);
    batches.forEach((batch, k) => {
      const chunk = trainExamples.slice(k * 4, k * 4 + 4);
      expect(batch.T).toBe(Math.max(...chunk.map((e) => e.ids.length)));
      expect(batch.ids.length).toBe(batch.B * batch.T);
      chunk.forEach((e, b) => {
        const row = batch.ids.subarray(b * batch.T, (b + 1) * batch.T);
        const targets = batch.targets.subarray(b * batch.T, (b + 1) * batch.T);
        expect([...row.subarray(0, e.ids.length)]).toEqual(e.ids);
        expect(row.subarray(e.ids.length).every((id) => id === EOS)).toBe(true);
        for (let t = 0; t < batch.T; t++) {
          const expected = t + 1 < e.ids.length && e.mask[t + 1] === 1 ? e.ids[t + 1] : IGNORE_INDEX;
          expect(targets[t]).toBe(expected);
        }
      });
    });
    const totalTargets = trainExamples.reduce((s, e) => s + targetIds(e).length, 0);
    expect(batches.reduce((s, b) => s + b.tokens, 0)).toBe(totalTargets);
    expect(batchTargets(batches)).toEqual(trainExamples.flatMap(targetIds));
  });

  it('packs examples into rows of exactly maxLength with every target kept in order', () => {
    const maxLength = 61; // prime, so rows cut examples at odd places
    const batches = lmBatches(trainExamples, { ...opts, batchSize: 3, maxLength, packing: true, seed: 11 });
    const order = lmBatches(trainExamples, { ...opts, batchSize: 1, seed: 11 }).map((b) => [...b.ids]); // same shuffle
    const stream = order.flat();
    for (const b of batches) {
      expect(b.T).toBe(maxLength);
      expect(b.ids.length).toBe(b.B * maxLength);
    }
    const rows = batches.flatMap((b) =>
      Array.from({ length: b.B }, (_, r) => [...b.ids.subarray(r * maxLength, (r + 1) * maxLength)]),
    );
    expect(rows.length).toBe(Math.ceil((stream.length - 1) / maxLength));
    expect(rows.flat().slice(0, stream.length - 1)).toEqual(stream.slice(0, -1));
    expect(
      rows
        .flat()
        .slice(stream.length - 1)
        .every((id) => id === EOS),
    ).toBe(true); // padding
    const shuffledExamples = order.map((ids) =>
      trainExamples.find((e) => e.ids.length === ids.length && e.ids.every((x, i) => x === ids[i]))!,
    );
    expect(batchTargets(batches)).toEqual(shuffledExamples.flatMap(targetIds));
    // each target is the next stream token
    const flatTargets = batches.flatMap((b) => [...b.targets]);
    flatTargets.forEach((t, i) => t !== IGNORE_INDEX && expect(t).toBe(stream[i + 1]));
  });

  it('counts truncated examples and drops those left without targets', () => {
    const maxLength = 48;
    const { examples, truncated, dropped } = truncateExamples(trainExamples, maxLength);
    const long = trainExamples.filter((e) => e.ids.length > maxLength);
    const emptied = long.filter((e) => !e.mask.slice(0, maxLength).includes(1));
    expect(truncated).toBe(long.length);
    expect(truncated).toBeGreaterThan(100);
    expect(dropped).toBe(emptied.length);
    expect(examples.length).toBe(637 - dropped);
    expect(examples.every((e) => e.ids.length <= maxLength && e.mask.length === e.ids.length)).toBe(true);
    expectInputError(
      () => lmBatches(trainExamples, { ...opts, maxLength }),
      'lmBatches',
      'at most maxLength 48',
      'hint: truncate',
    );
    expect(lmBatches(examples, { ...opts, maxLength }).every((b) => b.T <= maxLength)).toBe(true);
  });

  it('shuffles by seed: same seed same order, other seeds and epochs differ, shuffle false keeps file order', () => {
    const first = (batches: LmBatch[]) => [...batches[0].ids];
    const a = lmBatches(trainExamples, opts);
    expect(lmBatches(trainExamples, opts)).toEqual(a);
    expect(first(lmBatches(trainExamples, { ...opts, seed: 8 }))).not.toEqual(first(a));
    expect(batchTargets(lmBatches(trainExamples, { ...opts, seed: 8 })).length).toBe(batchTargets(a).length);
    const inOrder = lmBatches(trainExamples, { ...opts, shuffle: false, batchSize: 1 });
    expect(inOrder.map((b) => [...b.ids])).toEqual(trainExamples.map((e) => e.ids));
    const perEpoch = epochBatches(lmBatches, trainExamples, opts);
    expect(perEpoch(0)).toEqual(a);
    expect(perEpoch(0)).toBe(perEpoch(0)); // cached
    expect(first(perEpoch(1))).not.toEqual(first(a));
    expect(perEpoch(1)).toEqual(lmBatches(trainExamples, { ...opts, seed: 8 }));
  });
});

describe('messages and text formats', () => {
  const chat = [
    { role: 'system', content: 'Speak as a Shakespearean player.' },
    { role: 'user', content: 'Who art thou?' },
    { role: 'assistant', content: 'A poor player, sir.' },
    { role: 'user', content: 'And whither goest?' },
    { role: 'assistant', content: 'To Padua, to woo.' },
    { role: 'user', content: 'Farewell.' },
  ];
  const data = parseJsonl(
    `${JSON.stringify({ messages: chat })}\n${JSON.stringify({ messages: chat.slice(1, 3) })}\n`,
    'chat.jsonl',
  );

  it('renders the documented template', () => {
    const fallback = chatTemplateFor(tok, undefined);
    expect(fallback.fallback).toBe(true);
    expect(renderChat(fallback, chat.slice(1, 3) as never)).toBe(
      `User:\nWho art thou?\n\nAssistant:\nA poor player, sir.${EOS_TEXT}\n\n`,
    );
    expect(renderChat(fallback, chat.slice(1, 2) as never, { addGenerationPrompt: true })).toBe(
      'User:\nWho art thou?\n\nAssistant:\n',
    );
    expect(renderChat(fallback, [{ role: 'system', content: 'x' }])).toBe('System:\nx\n\n');
  });

  it('trains on assistant contents and their EOS only', () => {
    expect(data.format).toBe('messages');
    const [e] = tokenizeRows(data.rows, tok);
    const rendered = renderChat(
      chatTemplateFor(tok, undefined),
      (data.rows[0] as DataRow & { format: 'messages' }).messages,
    );
    expect(tok.decode(e.ids)).toBe(rendered); // the whole conversation, as TRL renders it
    const spans: string[] = [];
    let current: number[] = [];
    e.ids.forEach((id, t) => {
      if (e.mask[t] === 1) current.push(id);
      if (id === EOS && e.mask[t] === 1) {
        spans.push(tok.decode(current.slice(0, -1)));
        current = [];
      }
    });
    expect(spans).toEqual(['A poor player, sir.', 'To Padua, to woo.']);
    expect(e.mask.filter((m) => m === 1).length).toBe(
      spans.reduce((s, x) => s + tok.encode(x).length + 1, 0),
    );
  });

  it('text rows: every token but the first is a target, EOS appended', () => {
    const text = parseJsonl(
      '{"text": "O brave new world"}\n\n{"text": "That has such people in\'t."}',
      't.jsonl',
    );
    expect(text.format).toBe('text');
    const e = tokenizeRow(text.rows[0], tok);
    expect(e.ids).toEqual([...tok.encode('O brave new world'), EOS]);
    expect(e.mask).toEqual([0, ...Array(e.ids.length - 1).fill(1)]);
    expect(text.rows[1].line).toBe(3);
  });

  it('a Llama row begins with BOS (no target) and its first text token becomes a target', async () => {
    const llama = await loadTokenizer(join(ASSETS, 'stories260K-hf'));
    const bos = llama.bosId!;
    const text = tokenizeRow(parseJsonl('{"text": "Once upon a time"}', 't.jsonl').rows[0], llama);
    expect(text.ids).toEqual([bos, ...llama.encode('Once upon a time'), llama.eosId]);
    expect(text.mask).toEqual([0, ...Array(text.ids.length - 1).fill(1)]);
    // one text, so one dummy prefix `▁`: the completion's ▁A covers the space and is a target
    const pc = tokenizeRow(parseJsonl('{"prompt": "Q ", "completion": "A"}', 'p.jsonl').rows[0], llama);
    expect(pc.ids).toEqual([bos, ...llama.encode('Q A'), llama.eosId]);
    const { offsets } = llama.encodeWithOffsets('Q A');
    expect(pc.mask).toEqual([0, ...offsets.map(([, end]) => (end > 2 ? 1 : 0)), 1]);
    expect(pc.mask.filter((m) => m === 1).length).toBeGreaterThan(1);
    // GPT-2 has none: its rows start with the text (see the text-row case above).
    expect(tok.addBosToken).toBe(false);
  });

  it('encodes a literal <|endoftext|> in data as plain text, never as EOS', () => {
    const e = tokenizeRow(
      parseJsonl('{"prompt": "a<|endoftext|>b", "completion": "c"}', 'p.jsonl').rows[0],
      tok,
    );
    expect(e.ids.filter((id) => id === EOS)).toEqual([EOS]);
  });
});

describe('bundled speakers data (text/label)', () => {
  const train = classificationData(speakers.train.rows, tok, { maxLength: 64 });
  const names = train.labels.names;
  const val = classificationData(speakers.val.rows, tok, { maxLength: 64, labels: names });
  const test = classificationData(speakers.test.rows, tok, { maxLength: 64, labels: names });

  it('builds a sorted label map from train, with HF id2label / label2id', () => {
    expect([speakers.train, speakers.val, speakers.test].map((d) => d.rows.length)).toEqual([363, 78, 78]);
    expect(names).toEqual([
      'BAPTISTA',
      'GRUMIO',
      'HORTENSIO',
      'KATHARINA',
      'PETRUCHIO',
      'PROSPERO',
      'SEBASTIAN',
      'TRANIO',
    ]);
    expect(train.labels.id2label['4']).toBe('PETRUCHIO');
    expect(train.labels.label2id.TRANIO).toBe(7);
    speakers.test.rows.forEach((row, i) => {
      expect(names[test.examples[i].label]).toBe((row as DataRow & { format: 'text-label' }).label);
    });
    expect(val.examples.length).toBe(78);
    const long = speakers.train.rows.filter(
      (r) => tok.encode((r as { text: string }).text).length > 64,
    ).length;
    expect(train.truncated).toBe(long);
    expect(train.examples.every((e) => e.ids.length >= 1 && e.ids.length <= 64)).toBe(true);
  });

  it('batches with padding and the index of each last real token', () => {
    const batches = classificationBatches(train.examples, {
      batchSize: 5,
      shuffle: false,
      seed: 0,
      padId: EOS,
    });
    expect(batches.length).toBe(Math.ceil(363 / 5));
    batches.forEach((batch, k) => {
      const chunk = train.examples.slice(k * 5, k * 5 + 5);
      expect(batch.T).toBe(Math.max(...chunk.map((e) => e.ids.length)));
      chunk.forEach((e, b) => {
        expect(batch.lastIndex[b]).toBe(e.ids.length - 1);
        expect(batch.labels[b]).toBe(e.label);
        expect([...batch.ids.subarray(b * batch.T, b * batch.T + e.ids.length)]).toEqual(e.ids);
        expect(
          batch.ids.subarray(b * batch.T + e.ids.length, (b + 1) * batch.T).every((id) => id === EOS),
        ).toBe(true);
      });
    });
    const s1 = classificationBatches(train.examples, { batchSize: 5, shuffle: true, seed: 1, padId: EOS });
    expect(
      classificationBatches(train.examples, { batchSize: 5, shuffle: true, seed: 1, padId: EOS }),
    ).toEqual(s1);
    expect(
      classificationBatches(train.examples, { batchSize: 5, shuffle: true, seed: 2, padId: EOS }),
    ).not.toEqual(s1);
  });

  it('majority baseline on speakers test', () => {
    const counts: Record<string, number> = {};
    for (const line of readFileSync(join(ASSETS, 'sft/speakers/test.jsonl'), 'utf8').trim().split('\n')) {
      const label = JSON.parse(line).label as string;
      counts[label] = (counts[label] ?? 0) + 1;
    }
    const top = Math.max(...Object.values(counts));
    const baseline = majorityBaseline(test.examples);
    expect(baseline.accuracy).toBeCloseTo(top / 78, 12);
    expect(counts[names[baseline.label]]).toBe(top);
    const fromTrain = majorityBaseline(test.examples, majorityBaseline(train.examples).label);
    console.log(
      `speakers test majority baseline: ${names[baseline.label]} ${top}/78 = ${(baseline.accuracy * 100).toFixed(2)}%; ` +
        `train majority ${names[fromTrain.label]} on test = ${(fromTrain.accuracy * 100).toFixed(2)}%`,
    );
  });

  it('sorts integer labels numerically', () => {
    const data = parseJsonl(
      '{"text":"a","label":10}\n{"text":"b","label":2}\n{"text":"c","label":1}',
      'n.jsonl',
    );
    const { labels, examples } = classificationData(data.rows, tok, { maxLength: 8 });
    expect(labels.names).toEqual(['1', '2', '10']);
    expect(examples.map((e) => e.label)).toEqual([2, 1, 0]);
  });
});

describe('input errors', () => {
  it('malformed JSON names file and line', () => {
    expectInputError(
      () => parseJsonl('{"text": "a"}\n\n{"text": "b"\n', 'bad.jsonl'),
      'bad.jsonl:3: not valid JSON',
    );
  });

  it('unknown fields, missing fields and wrong types name file, line and field', () => {
    expectInputError(
      () => parseJsonl('{"prompt": "a", "completion": "b", "weight": 2}', 'u.jsonl'),
      'u.jsonl:1',
      'unknown field "weight"',
    );
    expectInputError(
      () => parseJsonl('{"text": "a"}\n{"foo": 1}', 'u.jsonl'),
      'u.jsonl:2',
      'unknown field "foo"',
    );
    expectInputError(
      () => parseJsonl('{"prompt": "a"}', 'm.jsonl'),
      'm.jsonl:1',
      'missing field "completion"',
    );
    expectInputError(
      () => parseJsonl('{"prompt": 1, "completion": "b"}', 'w.jsonl'),
      'w.jsonl:1',
      '"prompt"',
      'expected a string',
      'number 1',
    );
    expectInputError(
      () => parseJsonl('{"text": "a", "label": 1.5}', 'w.jsonl'),
      '"label"',
      'string or an integer',
    );
    expectInputError(() => parseJsonl('{"text": "a", "label": null}', 'w.jsonl'), '"label"', 'got null');
    expectInputError(() => parseJsonl('["text"]', 'w.jsonl'), 'w.jsonl:1: row is not an object', 'an array');
    expectInputError(() => parseJsonl('{}', 'w.jsonl'), 'w.jsonl:1: empty row');
  });

  it('messages: roles, fields, types and at least one assistant turn', () => {
    const m = (messages: unknown) => () => parseJsonl(JSON.stringify({ messages }), 'c.jsonl');
    expectInputError(m([{ role: 'user', content: 'hi' }]), 'c.jsonl:1: no assistant turn', 'hint:');
    expectInputError(m([{ role: 'bot', content: 'hi' }]), 'c.jsonl:1: messages[0]: unknown role', '"bot"');
    expectInputError(
      m([{ role: 'assistant', content: 'hi', name: 'x' }]),
      'messages[0]: unknown field "name"',
    );
    expectInputError(m([{ role: 'assistant', content: 3 }]), 'messages[0]', '"content"', 'expected a string');
    expectInputError(m([]), '"messages"', 'non-empty array', 'an empty array');
    expectInputError(m('hi'), '"messages"', 'non-empty array');
  });

  it('empty files name the file; a BOM and CRLF are tolerated', () => {
    expectInputError(() => parseJsonl('', 'empty.jsonl'), 'empty.jsonl: no rows');
    expectInputError(() => parseJsonl('\uFEFF\n  \n', 'blank.jsonl'), 'blank.jsonl: no rows');
    const data = parseJsonl('\uFEFF{"text": "a"}\r\n{"text": "b"}\r\n', 'bom.jsonl');
    expect(data.rows.map((r) => (r as { text: string }).text)).toEqual(['a', 'b']);
  });

  it('mixed formats in one file name the line and both formats', () => {
    expectInputError(
      () => parseJsonl('{"text": "a", "label": "X"}\n{"text": "b"}', 'mix.jsonl'),
      'mix.jsonl:2',
      'expected {"text","label"} as on line 1',
      'got {"text"}',
    );
  });

  it('classification: unseen label, missing label, LM use of labeled rows', () => {
    const names = ['A', 'B'];
    const val = parseJsonl('{"text": "x", "label": "A"}\n{"text": "y", "label": "C"}', 'val.jsonl');
    expectInputError(
      () => classificationData(val.rows, tok, { maxLength: 8, labels: names }),
      'val.jsonl:2',
      '"C"',
      'not a train label',
      '[A, B]',
    );
    const unlabeled = parseJsonl('{"text": "x"}', 'plain.jsonl');
    expectInputError(
      () => classificationData(unlabeled.rows, tok, { maxLength: 8 }),
      'plain.jsonl:1: row has no label',
      'got {"text"}',
    );
    expectInputError(() => tokenizeRows(val.rows, tok), 'val.jsonl:1', 'hint: use classificationData');
    expectInputError(
      () => classificationData(parseJsonl('{"text": "", "label": 0}', 'e.jsonl').rows, tok, { maxLength: 8 }),
      'e.jsonl:1: empty text',
    );
  });

  it('bad batch and split options', () => {
    expectInputError(() => lmBatches(trainExamples, { ...opts, batchSize: 0 }), 'lmBatches: bad batchSize');
    expectInputError(() => lmBatches(trainExamples, { ...opts, padId: -1 }), 'bad padId');
    expectInputError(
      () => splitByRatios([1, 2, 3], { val: 0.5, test: 0.5, seed: 0 }),
      'no rows left for train',
    );
    expectInputError(() => splitByRatios([1, 2, 3], { val: -0.1, test: 0, seed: 0 }), 'bad val ratio');
  });
});

describe('splitByRatios', () => {
  const rows = dialogue.train.rows;
  const split = splitByRatios(rows, { val: 0.1, test: 0.1, seed: 3 });

  it('is deterministic, disjoint and complete, each split in file order', () => {
    expect([split.train.length, split.val.length, split.test.length]).toEqual([509, 64, 64]);
    expect(splitByRatios(rows, { val: 0.1, test: 0.1, seed: 3 })).toEqual(split);
    expect(splitByRatios(rows, { val: 0.1, test: 0.1, seed: 4 }).test).not.toEqual(split.test);
    const lines = [...split.train, ...split.val, ...split.test].map((r) => r.line).sort((a, b) => a - b);
    expect(lines).toEqual(rows.map((r) => r.line));
    for (const part of [split.train, split.val, split.test])
      expect(part.map((r) => r.line)).toEqual(part.map((r) => r.line).sort((a, b) => a - b));
    expect(splitByRatios([1, 2, 3], { val: 0.01, test: 0, seed: 0 }).val.length).toBe(1);
  });
});

describe('readJsonlFile', () => {
  const dir = mkdtempSync(join(tmpdir(), 'webgpu-sft-data-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('reads a file, and explains a missing path, a directory and an empty file', async () => {
    const data = await readJsonlFile(join(ASSETS, 'sft/speakers/val.jsonl'));
    expect(data.format).toBe('text-label');
    expect(data.rows[0].file).toContain('val.jsonl');
    const missing = join(dir, 'nope.jsonl');
    await expect(readJsonlFile(missing)).rejects.toThrow(new RegExp(`${missing}: no such file`));
    await expect(readJsonlFile(dir)).rejects.toThrow(/is a directory/);
    const empty = join(dir, 'empty.jsonl');
    writeFileSync(empty, '');
    await expect(readJsonlFile(empty)).rejects.toThrow(/empty file, expected JSONL rows, got 0 bytes/);
    await expect(readJsonlFile(empty)).rejects.toBeInstanceOf(InputError);
  });
});
