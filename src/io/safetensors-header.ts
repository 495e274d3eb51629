// The safetensors header (layout in safetensors.ts): its JSON parsed and every entry checked against the dtype
// table and the data region, which the tensors must cover exactly. Messages name sizes and offsets; names from
// the file are quoted (io/quote.ts).
import { WeightsError } from '../util/errors.ts';
import { parseJsonText } from './json-text.ts';
import { quote, show } from './quote.ts';

export const DTYPE_BYTES = {
  F64: 8, F32: 4, F16: 2, BF16: 2, F8_E4M3: 1, F8_E5M2: 1,
  I64: 8, I32: 4, I16: 2, I8: 1, U64: 8, U32: 4, U16: 2, U8: 1, BOOL: 1,
} as const; // prettier-ignore
export type Dtype = keyof typeof DTYPE_BYTES;

// The reference implementation's limit: a larger length is a corrupt or foreign file, not a header.
export const MAX_HEADER_BYTES = 100_000_000;

export interface TensorInfo {
  name: string;
  dtype: Dtype;
  shape: number[];
  byteOffset: number; // from the start of the file (not the data region)
  byteLength: number;
  file: string; // the file it lives in, for errors and sharded views
}

export function parseHeader(bytes: Uint8Array, file: string, dataOffset: number, dataSize: number) {
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(bytes);
  } catch {
    throw fail(file, 'header is not valid UTF-8', 'UTF-8 JSON text', 'invalid bytes');
  }
  const header = parseJsonText(text, (what, got) => fail(file, `header ${what}`, 'a JSON object', got));
  if (!isObject(header)) throw fail(file, 'header is not a JSON object', '{name: entry}', show(header));
  // JSON.parse keeps the last of two equal keys; a repeated tensor name is corruption, so look for one.
  const repeated = firstRepeatedTopLevelKey(text);
  if (repeated !== null)
    throw fail(file, `tensor ${quote(repeated)} is in the header twice`, 'unique names', 'a repeat');
  const tensors = new Map<string, TensorInfo>();
  let metadata: Record<string, string> = {};
  for (const [name, entry] of Object.entries(header)) {
    if (name === '__metadata__') metadata = parseMetadata(entry, file);
    else tensors.set(name, parseEntry(name, entry, file, dataOffset, dataSize));
  }
  checkCoverage([...tensors.values()], file, dataOffset, dataSize);
  return { tensors, metadata };
}

function parseMetadata(entry: unknown, file: string): Record<string, string> {
  if (entry === null) return {};
  if (!isObject(entry)) throw fail(file, '__metadata__ is not an object', '{key: string}', show(entry));
  for (const [key, value] of Object.entries(entry)) {
    if (typeof value !== 'string')
      throw fail(file, `__metadata__ ${quote(key)}`, 'a string value', show(value));
  }
  return Object.fromEntries(Object.entries(entry)) as Record<string, string>;
}

function parseEntry(
  name: string,
  entry: unknown,
  file: string,
  dataOffset: number,
  dataSize: number,
): TensorInfo {
  const where = `${file}: tensor ${quote(name)}`;
  const fields = '{dtype, shape, data_offsets}';
  if (!isObject(entry)) throw fail(where, 'entry is not an object', fields, show(entry));
  for (const field of ['dtype', 'shape', 'data_offsets']) {
    if (!Object.hasOwn(entry, field)) throw fail(where, `has no ${field}`, fields, show(Object.keys(entry)));
  }
  const { dtype, shape, data_offsets: offsets } = entry;
  if (typeof dtype !== 'string' || !Object.hasOwn(DTYPE_BYTES, dtype)) {
    throw fail(where, 'has an unknown dtype', `one of ${Object.keys(DTYPE_BYTES).join(', ')}`, show(dtype));
  }
  if (!Array.isArray(shape) || !shape.every(isCount)) {
    throw fail(where, 'shape is invalid', 'an array of non-negative integers', show(shape));
  }
  if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every(isCount)) {
    throw fail(where, 'data_offsets is invalid', '[begin, end] as non-negative integers', show(offsets));
  }
  const [begin, end] = offsets as [number, number];
  const range = `data_offsets [${begin}, ${end}]`;
  if (begin > end) throw fail(where, `${range} are reversed`, 'begin <= end', `${begin} > ${end}`);
  if (end > dataSize) {
    const hint = 'the file may be truncated';
    throw fail(where, `${range} run past the data region`, `end <= ${dataSize}`, end, hint);
  }
  const expected = byteCount(shape, DTYPE_BYTES[dtype as Dtype]);
  if (expected !== end - begin) {
    const why = `${expected} bytes for ${dtype} [${shape.join(', ')}]`;
    throw fail(where, `${range} do not match its shape and dtype`, why, `${end - begin} bytes`);
  }
  return {
    name,
    dtype: dtype as Dtype,
    shape,
    byteOffset: dataOffset + begin,
    byteLength: end - begin,
    file,
  };
}

// Sorted by offset, each tensor must start where the previous one ended, and the last must end the file.
function checkCoverage(tensors: TensorInfo[], file: string, dataOffset: number, dataSize: number): void {
  const sorted = tensors.sort((a, b) => a.byteOffset - b.byteOffset || a.byteLength - b.byteLength);
  const range = (t: TensorInfo) =>
    `[${t.byteOffset - dataOffset}, ${t.byteOffset - dataOffset + t.byteLength}]`;
  let cursor = 0;
  let previous: TensorInfo | null = null;
  for (const t of sorted) {
    const begin = t.byteOffset - dataOffset;
    const where = `${file}: tensor ${quote(t.name)}`;
    if (begin < cursor) {
      const what = `data_offsets ${range(t)} overlap tensor ${quote(previous!.name)} ${range(previous!)}`;
      throw fail(where, what, `begin >= ${cursor}`, begin);
    }
    if (begin > cursor) {
      const after = previous ? `the end of tensor ${quote(previous.name)}` : 'the start of the data region';
      throw fail(where, 'leaves a gap in the data region', `begin ${cursor} (${after})`, begin);
    }
    cursor = begin + t.byteLength;
    previous = t;
  }
  if (cursor !== dataSize) {
    const hint = 'the file may have trailing garbage or a lost header entry';
    throw fail(file, 'the tensors do not cover the data region', `an end at ${dataSize}`, cursor, hint);
  }
}

// Runs on text JSON.parse accepted, so strings are well formed and the scan is linear.
function firstRepeatedTopLevelKey(text: string): string | null {
  const seen = new Set<string>();
  let depth = 0;
  let expectKey = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === '"') {
      let j = i + 1;
      while (text[j] !== '"') j += text[j] === '\\' ? 2 : 1;
      if (depth === 1 && expectKey) {
        const key = JSON.parse(text.slice(i, j + 1)) as string;
        if (seen.has(key)) return key;
        seen.add(key);
      }
      expectKey = false;
      i = j;
    } else if (c === '{' || c === '[') {
      depth++;
      expectKey = c === '{' && depth === 1;
    } else if (c === '}' || c === ']') depth--;
    else if (c === ',') expectKey = depth === 1;
  }
  return null;
}

export function byteCount(shape: readonly number[], elementBytes: number): number {
  if (shape.includes(0)) return 0;
  return shape.reduce((n, d) => n * d, elementBytes); // past 2^53 imprecise, yet still larger than any file
}

// `<where>: <what>, expected <x>, got <y>` (src/util/errors.ts).
export function fail(
  where: string,
  what: string,
  expected: string,
  got: unknown,
  hint?: string,
): WeightsError {
  return new WeightsError(`${where}: ${what}, expected ${expected}, got ${got}`, hint);
}

export function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

export function isCount(v: unknown): v is number {
  return Number.isSafeInteger(v) && (v as number) >= 0;
}
