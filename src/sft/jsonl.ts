// SFT data rows: JSONL text in one of four formats (detected from the first row; every row must match it),
// parsed and checked line by line so errors name the file and line. Browser-safe.
import { InputError } from '../util/errors.ts';
import { parseJsonText } from '../io/json-text.ts';
import { quote, show } from '../io/quote.ts';

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
// Fields and roles of tool calling (OpenAI/transformers style), refused by name: their rendering and masks are not
// checked against transformers yet.
const TOOL_FIELDS: readonly string[] = ['tools', 'tool_calls', 'tool_call_id'];
const NO_TOOLS =
  'tool calls are not supported (yet), expected system, user and assistant turns of plain content';

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
      if (TOOL_FIELDS.includes(key)) throw new InputError(`${at}: field ${quote(key, '"')}: ${NO_TOOLS}`);
      if (key !== 'role' && key !== 'content') {
        throw new InputError(`${at}: unknown field ${quote(key, '"')}, expected only "role" and "content"`);
      }
    }
    const role = stringField(`${at}`, m, 'role');
    if (role === 'tool') throw new InputError(`${at}: field "role" is "tool": ${NO_TOOLS}`);
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

function parseRow(file: string, line: number, json: unknown, where = `${file}:${line}`): DataRow {
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
  if (format === 'messages' && keys.includes('tools'))
    throw new InputError(`${where}: field "tools": ${NO_TOOLS}`);
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

function sameFormat(rows: DataRow[], row: DataRow, where: string, unit: 'line' | 'row'): DataRow {
  const first = rows[0];
  if (first && row.format !== first.format) {
    const at = unit === 'line' ? `line ${first.line}` : `row 0`;
    throw new InputError(
      `${where}: row format differs from ${at}, expected ${FIELDS[first.format].shape} as on ${at}, got ${FIELDS[row.format].shape}`,
      `every row of a ${unit === 'line' ? 'file' : 'list'} must have the same fields`,
    );
  }
  return row;
}

/** Rows given as values (plain objects from code), checked as parseJsonl checks lines; errors name `name[i]`. */
export function parseRows(values: readonly unknown[], name: string): JsonlData {
  if (!Array.isArray(values))
    throw new InputError(
      `${name}: rows, expected an array of objects or JSONL text, got ${typeName(values)}`,
    );
  const rows: DataRow[] = [];
  values.forEach((value, i) =>
    rows.push(sameFormat(rows, parseRow(name, i + 1, value, `${name}[${i}]`), `${name}[${i}]`, 'row')),
  );
  if (rows.length === 0) throw new InputError(`${name}: rows, expected at least one row, got an empty array`);
  return { file: name, format: rows[0].format, rows };
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
    rows.push(sameFormat(rows, parseRow(fileName, i + 1, json), `${fileName}:${i + 1}`, 'line'));
  }
  if (rows.length === 0) {
    throw new InputError(
      `${fileName}: no rows, expected at least one JSON object line, got ${lines.length} blank line(s)`,
    );
  }
  return { file: fileName, format: rows[0].format, rows };
}
