// SFT data: JSONL rows in one of four formats (detected per file), the chat template, tokenization into
// examples whose mask marks loss targets, truncation, and seeded shuffles and splits. Browser-safe.

import { Rng } from '../util/random.ts';
import { InputError } from '../util/errors.ts';
import { parseJsonText } from '../io/json-text.ts';
import { quote, show } from '../io/quote.ts';
import { modelInput, type Tokenizer } from '../tokenizers/tokenizer.ts';

export type RowFormat = 'prompt-completion' | 'messages' | 'text' | 'text-label';
export type ChatRole = 'system' | 'user' | 'assistant';

/** Where a row came from, so later errors (an unseen label) can name it. */
export interface RowOrigin {
  file: string;
  line: number; // 1-based, blank lines counted
}
export interface PromptCompletionRow extends RowOrigin {
  format: 'prompt-completion';
  prompt: string;
  completion: string;
}
export interface ChatMessage {
  role: ChatRole;
  content: string;
}
export interface MessagesRow extends RowOrigin {
  format: 'messages';
  messages: ChatMessage[];
}
export interface TextRow extends RowOrigin {
  format: 'text';
  text: string;
}
export interface TextLabelRow extends RowOrigin {
  format: 'text-label';
  text: string;
  label: string | number; // an integer when a number
}
export type DataRow = PromptCompletionRow | MessagesRow | TextRow | TextLabelRow;

export interface JsonlData {
  file: string;
  format: RowFormat;
  rows: DataRow[];
}

/** A causal-LM example: mask[t] = 1 when ids[t] is a loss target (predicted from ids[0..t-1]); mask[0] = 0. */
export interface Example {
  ids: number[];
  mask: number[];
}

const FIELDS: Record<RowFormat, { required: string[]; shape: string }> = {
  'prompt-completion': { required: ['prompt', 'completion'], shape: '{"prompt","completion"}' },
  messages: { required: ['messages'], shape: '{"messages"}' },
  text: { required: ['text'], shape: '{"text"}' },
  'text-label': { required: ['text', 'label'], shape: '{"text","label"}' },
};
const ALL_SHAPES = Object.values(FIELDS)
  .map((f) => f.shape)
  .join(', ');
/** The fields of a format as written in messages, e.g. {"text","label"}. */
export function formatShape(format: RowFormat): string {
  return FIELDS[format].shape;
}
const ROLES: readonly string[] = ['system', 'user', 'assistant'];

function detectFormat(keys: string[]): RowFormat | undefined {
  if (keys.includes('messages')) return 'messages';
  if (keys.includes('prompt') || keys.includes('completion')) return 'prompt-completion';
  if (keys.includes('label')) return 'text-label';
  if (keys.includes('text')) return 'text';
  return undefined;
}

function typeName(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  return typeof value === 'object' ? 'an object' : `${typeof value} ${show(value)}`;
}

// Field names of a row, quoted, at most 8 of them.
function fieldList(keys: string[]): string {
  const shown = keys.slice(0, 8).map((k) => quote(k, '"'));
  return `[${shown.join(', ')}${keys.length > 8 ? `, ... (${keys.length} fields)` : ''}]`;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function stringField(where: string, row: Record<string, unknown>, key: string): string {
  const value = row[key];
  if (typeof value !== 'string') {
    throw new InputError(
      `${where}: field "${key}" has the wrong type, expected a string, got ${typeName(value)}`,
    );
  }
  return value;
}

function parseMessages(where: string, value: unknown): ChatMessage[] {
  if (!Array.isArray(value) || value.length === 0) {
    const got = Array.isArray(value) ? 'an empty array' : typeName(value);
    throw new InputError(`${where}: field "messages" is invalid, expected a non-empty array, got ${got}`);
  }
  const messages = value.map((m: unknown, i): ChatMessage => {
    const at = `${where}: messages[${i}]`;
    if (!isObject(m)) throw new InputError(`${at} is invalid, expected an object, got ${typeName(m)}`);
    for (const key of Object.keys(m)) {
      if (key !== 'role' && key !== 'content') {
        throw new InputError(`${at}: unknown field ${quote(key, '"')}, expected only "role" and "content"`);
      }
    }
    const role = stringField(`${at}`, m, 'role');
    if (!ROLES.includes(role)) {
      throw new InputError(`${at}: unknown role, expected system, user or assistant, got ${show(role)}`);
    }
    return { role: role as ChatRole, content: stringField(at, m, 'content') };
  });
  if (!messages.some((m) => m.role === 'assistant')) {
    throw new InputError(
      `${where}: no assistant turn, expected at least one message with role "assistant", got roles ` +
        `[${messages.map((m) => m.role).join(', ')}]`,
      'the loss is computed on assistant turns only',
    );
  }
  return messages;
}

function parseRow(file: string, line: number, json: unknown): DataRow {
  const where = `${file}:${line}`;
  if (!isObject(json))
    throw new InputError(`${where}: row is not an object, expected ${ALL_SHAPES}, got ${typeName(json)}`);
  const keys = Object.keys(json);
  const format = detectFormat(keys);
  if (format === undefined) {
    const field = keys[0];
    throw new InputError(
      field === undefined
        ? `${where}: empty row, expected one of ${ALL_SHAPES}, got {}`
        : `${where}: unknown field ${quote(field, '"')}, expected one of ${ALL_SHAPES}, got fields ${fieldList(keys)}`,
    );
  }
  const { required, shape } = FIELDS[format];
  for (const key of keys) {
    if (!required.includes(key)) {
      throw new InputError(
        `${where}: unknown field ${quote(key, '"')}, expected only the fields of ${shape}, got ${fieldList(keys)}`,
      );
    }
  }
  for (const key of required) {
    if (!(key in json))
      throw new InputError(`${where}: missing field "${key}", expected ${shape}, got ${fieldList(keys)}`);
  }
  const origin = { file, line };
  switch (format) {
    case 'prompt-completion':
      return {
        ...origin,
        format,
        prompt: stringField(where, json, 'prompt'),
        completion: stringField(where, json, 'completion'),
      };
    case 'messages':
      return { ...origin, format, messages: parseMessages(where, json.messages) };
    case 'text':
      return { ...origin, format, text: stringField(where, json, 'text') };
    case 'text-label': {
      const label = json.label;
      if (typeof label !== 'string' && !Number.isInteger(label)) {
        throw new InputError(
          `${where}: field "label" has the wrong type, expected a string or an integer, got ${typeName(label)}`,
        );
      }
      return { ...origin, format, text: stringField(where, json, 'text'), label: label as string | number };
    }
  }
}

/** Parse JSONL text: one object per non-blank line, all in the format of the first row. */
export function parseJsonl(text: string, fileName: string): JsonlData {
  const lines = text.replace(/^\uFEFF/, '').split(/\r?\n/);
  const rows: DataRow[] = [];
  for (let i = 0; i < lines.length; i++) {
    if (lines[i].trim() === '') continue;
    const json = parseJsonText(
      lines[i],
      (what, got) =>
        new InputError(`${fileName}:${i + 1}: ${what}, expected one JSON object per line, got ${got}`),
    );
    const row = parseRow(fileName, i + 1, json);
    const first = rows[0];
    if (first && row.format !== first.format) {
      throw new InputError(
        `${fileName}:${i + 1}: row format differs from line ${first.line}, expected ${FIELDS[first.format].shape} ` +
          `as on line ${first.line}, got ${FIELDS[row.format].shape}`,
        'every row of a file must have the same fields',
      );
    }
    rows.push(row);
  }
  if (rows.length === 0) {
    throw new InputError(
      `${fileName}: no rows, expected at least one JSON object line, got ${lines.length} blank line(s)`,
    );
  }
  return { file: fileName, format: rows[0].format, rows };
}

// The chat template. Each turn renders as
//   <Role>:\n<content>\n\n          Role = System | User | Assistant
// and an assistant turn's content is followed directly by EOS (before the blank line):
//   User:\nHi\n\nAssistant:\nHello!<EOS>\n\n
// Loss falls on assistant contents and their EOS only. A generation prompt ends with "Assistant:\n"; the model
// answers and stops at EOS.
const ROLE_HEADER: Record<ChatRole, string> = {
  system: 'System:\n',
  user: 'User:\n',
  assistant: 'Assistant:\n',
};

export function renderChat(
  messages: readonly ChatMessage[],
  options: { eos: string; generationPrompt?: boolean },
): string {
  let out = '';
  for (const m of messages)
    out += ROLE_HEADER[m.role] + m.content + (m.role === 'assistant' ? options.eos : '') + '\n\n';
  return options.generationPrompt ? out + ROLE_HEADER.assistant : out;
}

// User text is encoded with special tokens off, so a literal "<|endoftext|>" in data never becomes EOS.
const PLAIN = { allowSpecial: false } as const;

function eosOf(tokenizer: Tokenizer): number {
  if (tokenizer.eosId === null) {
    throw new InputError('tokenizer: no EOS token, expected an eosId for SFT examples, got null');
  }
  return tokenizer.eosId;
}

function push(example: Example, ids: number[], target: 0 | 1): void {
  for (const id of ids) {
    example.ids.push(id);
    example.mask.push(target);
  }
}

/**
 * Tokenize one LM row, BOS first where the model expects it (a Llama's; no target). Chat turns after the last
 * assistant turn carry no target and are left out.
 */
export function tokenizeRow(row: DataRow, tokenizer: Tokenizer): Example {
  const eos = eosOf(tokenizer);
  const example: Example = { ids: [], mask: [] };
  push(example, modelInput(tokenizer, []), 0);
  switch (row.format) {
    case 'prompt-completion':
      push(example, tokenizer.encode(row.prompt, PLAIN), 0);
      push(example, tokenizer.encode(row.completion, PLAIN), 1);
      push(example, [eos], 1);
      break;
    case 'messages': {
      const last = row.messages.map((m) => m.role).lastIndexOf('assistant');
      let pending = ''; // non-target text, encoded in one piece up to the next assistant content
      for (const m of row.messages.slice(0, last + 1)) {
        pending += ROLE_HEADER[m.role];
        if (m.role !== 'assistant') {
          pending += m.content + '\n\n';
          continue;
        }
        push(example, tokenizer.encode(pending, PLAIN), 0);
        push(example, tokenizer.encode(m.content, PLAIN), 1);
        push(example, [eos], 1);
        pending = '\n\n';
      }
      break;
    }
    case 'text': {
      const ids = tokenizer.encode(row.text, PLAIN);
      if (ids.length === 0)
        throw new InputError(`${row.file}:${row.line}: empty text, expected at least one token, got ""`);
      push(example, ids, 1);
      push(example, [eos], 1);
      break;
    }
    case 'text-label':
      throw new InputError(
        `${row.file}:${row.line}: labeled row in a language-model dataset, expected {"prompt","completion"}, ` +
          `{"messages"} or {"text"}, got {"text","label"}`,
        'use classificationData for {"text","label"} files',
      );
  }
  example.mask[0] = 0; // nothing in the example precedes its first token
  return example;
}

/** Progress of a long tokenization: onProgress(done, total) about every intervalMs, and once when done. */
export interface TokenizeProgress {
  onProgress: (done: number, total: number) => void;
  intervalMs?: number; // default 500
}

export function tokenizeRows(
  rows: readonly DataRow[],
  tokenizer: Tokenizer,
  progress?: TokenizeProgress,
): Example[] {
  const out: Example[] = [];
  const interval = progress?.intervalMs ?? 500;
  let last = Date.now();
  for (const row of rows) {
    out.push(tokenizeRow(row, tokenizer));
    if (!progress) continue;
    const now = Date.now();
    if (out.length === rows.length || now - last >= interval) {
      last = now;
      progress.onProgress(out.length, rows.length);
    }
  }
  return out;
}

export interface Truncated {
  examples: Example[];
  truncated: number; // examples longer than maxLength, cut to it (the start kept)
  dropped: number; // of those, examples left without any target, and removed
}

export function truncateExamples(examples: readonly Example[], maxLength: number): Truncated {
  checkPositiveInt('truncateExamples', 'maxLength', maxLength);
  const out: Example[] = [];
  let truncated = 0;
  let dropped = 0;
  for (const e of examples) {
    if (e.ids.length <= maxLength) {
      out.push(e);
      continue;
    }
    truncated++;
    const cut = { ids: e.ids.slice(0, maxLength), mask: e.mask.slice(0, maxLength) };
    if (cut.mask.includes(1)) out.push(cut);
    else dropped++;
  }
  return { examples: out, truncated, dropped };
}

export function checkPositiveInt(where: string, name: string, value: number): void {
  if (!Number.isInteger(value) || value < 1) {
    throw new InputError(`${where}: bad ${name}, expected a positive integer, got ${value}`);
  }
}

/** A seeded Fisher–Yates shuffle (splitmix32); the input is left alone. */
export function shuffled<T>(items: readonly T[], seed: number): T[] {
  const out = items.slice();
  const rng = new Rng(seed);
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(rng.next() * (i + 1));
    [out[i], out[j]] = [out[j], out[i]];
  }
  return out;
}

export interface Splits<T> {
  train: T[];
  val: T[];
  test: T[];
}

/**
 * Deterministic split: a seeded shuffle picks round(n·ratio) rows (at least 1 for a ratio > 0) for test, then
 * val; the rest is train. Each split keeps file order.
 */
export function splitByRatios<T>(
  rows: readonly T[],
  options: { val: number; test: number; seed: number },
): Splits<T> {
  const { val, test, seed } = options;
  for (const [name, ratio] of [
    ['val', val],
    ['test', test],
  ] as const) {
    if (!(ratio >= 0 && ratio < 1))
      throw new InputError(`splitByRatios: bad ${name} ratio, expected 0 ≤ ratio < 1, got ${ratio}`);
  }
  const count = (ratio: number) => (ratio > 0 ? Math.max(1, Math.round(rows.length * ratio)) : 0);
  const nTest = count(test);
  const nVal = count(val);
  if (nTest + nVal >= rows.length) {
    throw new InputError(
      `splitByRatios: no rows left for train, expected val + test < ${rows.length} rows, got ${nVal} + ${nTest}`,
    );
  }
  const order = shuffled(
    rows.map((_, i) => i),
    seed,
  );
  const pick = (from: number, to: number) =>
    order
      .slice(from, to)
      .sort((a, b) => a - b)
      .map((i) => rows[i]);
  return { test: pick(0, nTest), val: pick(nTest, nTest + nVal), train: pick(nTest + nVal, rows.length) };
}
