// Sequence classification data: {"text","label"} rows (each text set in a template) to token ids and label
// indices, the label map saved in Hugging Face configs (id2label / label2id), batches with each row's last real
// token, and the majority baseline.

import { InputError } from '../util/errors.ts';
import { modelInput, type Tokenizer } from '../tokenizers/tokenizer.ts';
import { checkBatchOptions } from './batching.ts';
import { checkPositiveInt } from '../util/check-args.ts';
import { shuffled } from './splits.ts';
import { formatShape, type DataRow } from './jsonl.ts';

export interface ClassExample {
  ids: number[];
  label: number; // index into LabelMap.names
}

export interface LabelMap {
  names: string[]; // index → label name
  id2label: Record<string, string>; // HF config form: { "0": name }
  label2id: Record<string, number>;
}

export interface ClassificationData {
  examples: ClassExample[];
  labels: LabelMap;
  truncated: number; // texts longer than maxLength, cut to it (the start kept)
}

export interface ClassBatch {
  ids: Int32Array; // (B·T), padded with padId
  lastIndex: Int32Array; // (B), index of each row's last non-padding token
  labels: Int32Array; // (B)
  B: number;
  T: number;
}

export interface ClassBatchOptions {
  batchSize: number;
  shuffle: boolean;
  seed: number;
  padId: number;
}

export function labelMap(names: readonly string[]): LabelMap {
  const label2id: Record<string, number> = {};
  const id2label: Record<string, string> = {};
  names.forEach((name, i) => {
    if (name in label2id)
      throw new InputError(
        `labels: duplicate label, expected unique names, got ${JSON.stringify(name)} twice`,
      );
    label2id[name] = i;
    id2label[String(i)] = name;
  });
  return { names: names.slice(), id2label, label2id };
}

// Integer labels (all names canonical integers) sort numerically, others by code unit, so the map never depends
// on the locale.
function sortLabels(names: Iterable<string>): string[] {
  const list = [...new Set(names)];
  if (list.every((n) => /^-?(0|[1-9]\d*)$/.test(n))) return list.sort((a, b) => Number(a) - Number(b));
  return list.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
}

/** Where a row's text goes in a template; `{text}` alone presents the text as it is. */
export const TEXT_PLACEHOLDER = '{text}';

/** A template's text before and after its one `{text}`. */
export function splitTemplate(template: string): { prefix: string; suffix: string } {
  const parts = template.split(TEXT_PLACEHOLDER);
  if (parts.length !== 2) {
    throw new InputError(
      `template: ${JSON.stringify(template)}, expected exactly one ${TEXT_PLACEHOLDER}, got ${parts.length - 1}`,
      `e.g. '${TEXT_PLACEHOLDER}\\n' ends every text with a newline`,
    );
  }
  return { prefix: parts[0], suffix: parts[1] };
}

export function applyTemplate(template: string, text: string): string {
  const { prefix, suffix } = splitTemplate(template);
  return prefix + text + suffix;
}

/**
 * Tokenize labeled rows, each text set in `template` (default `{text}`): the model reads the templated string,
 * and a text too long for maxLength loses its end while the template's suffix tokens stay last. Without `labels` the label map is built from these rows (train); with it (the train
 * names, for val/test) a label outside it is an error naming the row.
 */
export function classificationData(
  rows: readonly DataRow[],
  tokenizer: Tokenizer,
  options: { maxLength: number; labels?: readonly string[]; template?: string },
): ClassificationData {
  checkPositiveInt('classificationData', 'maxLength', options.maxLength);
  const { prefix, suffix } = splitTemplate(options.template ?? TEXT_PLACEHOLDER);
  const suffixLength = suffix ? tokenizer.encode(suffix, { allowSpecial: false }).length : 0;
  const room = options.maxLength - modelInput(tokenizer, []).length; // what BOS leaves for the text
  if (suffixLength >= room) {
    throw new InputError(
      `template: suffix ${JSON.stringify(suffix)}, expected fewer tokens than maxLength ${options.maxLength}` +
        `${room < options.maxLength ? ' less BOS' : ''}, got ${suffixLength}`,
    );
  }
  const labeled = rows.map((row) => {
    if (row.format !== 'text-label') {
      throw new InputError(
        `${row.file}:${row.line}: row has no label, expected ${formatShape('text-label')} for classification, ` +
          `got ${formatShape(row.format)}`,
      );
    }
    return row;
  });
  const labels = labelMap(options.labels ?? sortLabels(labeled.map((row) => String(row.label))));
  let truncated = 0;
  const examples = labeled.map((row): ClassExample => {
    const where = `${row.file}:${row.line}`;
    const name = String(row.label);
    const label = labels.label2id[name];
    if (label === undefined) {
      throw new InputError(
        `${where}: label ${JSON.stringify(row.label)} is not a train label, expected one of ` +
          `[${labels.names.join(', ')}], got ${JSON.stringify(row.label)}`,
        'every val/test label must occur in the train split',
      );
    }
    if (row.text === '') throw new InputError(`${where}: empty text, expected at least one token, got ""`);
    let ids = tokenizer.encode(prefix + row.text + suffix, { allowSpecial: false });
    if (ids.length > room) {
      truncated++;
      // The suffix's tokens as they are in this text: those after what the text without it shares. (Encoded
      // alone a suffix can differ: SentencePiece gives "\n" a leading ▁ there, but not after a word.)
      const shared = suffix
        ? sharedPrefix(ids, tokenizer.encode(prefix + row.text, { allowSpecial: false }))
        : ids.length;
      const tail = Math.min(ids.length - shared, room - 1);
      ids = ids.slice(0, room - tail).concat(ids.slice(ids.length - tail));
    }
    return { ids: modelInput(tokenizer, ids), label };
  });
  return { examples, labels, truncated };
}

function sharedPrefix(a: readonly number[], b: readonly number[]): number {
  let n = 0;
  while (n < a.length && n < b.length && a[n] === b[n]) n++;
  return n;
}

/** Batches for one pass (seeded shuffle first unless shuffle is false); T is the longest row of each batch. */
export function classificationBatches(
  examples: readonly ClassExample[],
  options: ClassBatchOptions,
): ClassBatch[] {
  checkBatchOptions('classificationBatches', options);
  const order = options.shuffle ? shuffled(examples, options.seed) : examples.slice();
  const batches: ClassBatch[] = [];
  for (let i = 0; i < order.length; i += options.batchSize) {
    const chunk = order.slice(i, i + options.batchSize);
    const B = chunk.length;
    const T = Math.max(...chunk.map((e) => e.ids.length));
    const ids = new Int32Array(B * T).fill(options.padId); // (B·T)
    const lastIndex = new Int32Array(B); // (B)
    const labels = new Int32Array(B); // (B)
    chunk.forEach((e, b) => {
      ids.set(e.ids, b * T);
      lastIndex[b] = e.ids.length - 1;
      labels[b] = e.label;
    });
    batches.push({ ids, lastIndex, labels, B, T });
  }
  return batches;
}

/**
 * Accuracy of always answering one label: `label` if given (e.g. the train majority), else the most frequent
 * label of these examples (ties: the lowest index).
 */
export function majorityBaseline(
  examples: readonly ClassExample[],
  label?: number,
): { label: number; accuracy: number; count: number } {
  if (examples.length === 0)
    throw new InputError('majorityBaseline: no examples, expected at least 1, got 0');
  const counts = new Map<number, number>();
  for (const e of examples) counts.set(e.label, (counts.get(e.label) ?? 0) + 1);
  let best = label;
  if (best === undefined) {
    for (const [l, c] of counts) {
      if (best === undefined || c > counts.get(best)! || (c === counts.get(best)! && l < best)) best = l;
    }
  }
  const hits = counts.get(best!) ?? 0;
  return { label: best!, accuracy: hits / examples.length, count: examples.length };
}
