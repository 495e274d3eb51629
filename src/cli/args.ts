// Flag parsing for the CLI on node:util parseArgs: typed values, numbers checked, one-line errors (exit code 2).
import { parseArgs } from 'node:util';

export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

export interface FlagSpec {
  type: 'string' | 'boolean' | 'number' | 'int';
  default?: string | boolean | number;
  help: string;
  choices?: string[];
  /** Numbers: the range allowed, bounds included unless marked open. */
  min?: number;
  max?: number;
  open?: 'min' | 'max' | 'both';
}

/** "an integer ≥ 1", "a number in (0, 1]": what a numeric flag accepts, in the words of its error. */
function expectedNumber(s: FlagSpec): string {
  const kind = s.type === 'int' ? 'an integer' : 'a number';
  const lowOpen = s.open === 'min' || s.open === 'both';
  const highOpen = s.open === 'max' || s.open === 'both';
  if (s.min !== undefined && s.max !== undefined)
    return `${kind} in ${lowOpen ? '(' : '['}${s.min}, ${s.max}${highOpen ? ')' : ']'}`;
  if (s.min !== undefined) return `${kind} ${lowOpen ? '>' : '≥'} ${s.min}`;
  if (s.max !== undefined) return `${kind} ${highOpen ? '<' : '≤'} ${s.max}`;
  return kind;
}

function inRange(s: FlagSpec, n: number): boolean {
  const lowOpen = s.open === 'min' || s.open === 'both';
  const highOpen = s.open === 'max' || s.open === 'both';
  if (s.min !== undefined && (lowOpen ? n <= s.min : n < s.min)) return false;
  if (s.max !== undefined && (highOpen ? n >= s.max : n > s.max)) return false;
  return true;
}

export type Flags = Record<string, string | boolean | number | undefined>;

export function parseFlags(command: string, argv: string[], spec: Record<string, FlagSpec>): Flags {
  const options: Record<string, { type: 'string' | 'boolean' }> = {};
  for (const [name, s] of Object.entries(spec))
    options[name] = { type: s.type === 'boolean' ? 'boolean' : 'string' };
  options.help = { type: 'boolean' };
  // `--flag -1`: parseArgs takes a value that starts with '-' for another option; a number is this flag's value.
  const args = argv.map((a, i) =>
    i > 0 &&
    /^-[\d.]/.test(a) &&
    argv[i - 1].startsWith('--') &&
    !argv[i - 1].includes('=') &&
    options[argv[i - 1].slice(2)]?.type === 'string'
      ? `\0${a}`
      : a,
  );
  const joined: string[] = [];
  for (const a of args) {
    if (a.startsWith('\0')) joined[joined.length - 1] += `=${a.slice(1)}`;
    else joined.push(a);
  }
  let values: Record<string, string | boolean | undefined>;
  try {
    ({ values } = parseArgs({ args: joined, options, strict: true, allowPositionals: false }));
  } catch (e) {
    throw new UsageError(`${command}: ${(e as Error).message.split('\n')[0]}`);
  }
  const out: Flags = { help: values.help };
  for (const [name, s] of Object.entries(spec)) {
    const raw = values[name];
    if (raw === undefined) {
      out[name] = s.default;
      continue;
    }
    if (s.type === 'number' || s.type === 'int') {
      const n = Number(raw);
      const integral = s.type !== 'int' || Number.isSafeInteger(n);
      if (String(raw).trim() === '' || !Number.isFinite(n) || !integral || !inRange(s, n)) {
        throw new UsageError(`${command}: --${name}, expected ${expectedNumber(s)}, got '${String(raw)}'`);
      }
      out[name] = n;
    } else if (s.choices && !s.choices.includes(String(raw))) {
      throw new UsageError(
        `${command}: --${name}, expected one of ${s.choices.join('|')}, got '${String(raw)}'`,
      );
    } else {
      out[name] = raw;
    }
  }
  return out;
}

export function usage(command: string, summary: string, spec: Record<string, FlagSpec>): string {
  const rows = Object.entries(spec).map(([name, s]) => {
    const value = s.type === 'boolean' ? '' : ` <${s.choices ? s.choices.join('|') : s.type}>`;
    const def = s.default !== undefined && s.default !== false ? ` (default ${String(s.default)})` : '';
    return `  --${name}${value}`.padEnd(34) + s.help + def;
  });
  return `webgpu-sft ${command}: ${summary}\n\n${rows.join('\n')}`;
}

/** A flag value with the escapes \n, \t and \\ turned into their characters (shells pass them literally). */
export function unescapeFlag(command: string, flag: string, value: string): string {
  return value.replace(/\\(.?)/g, (match, c: string) => {
    if (c === 'n') return '\n';
    if (c === 't') return '\t';
    if (c === '\\') return '\\';
    throw new UsageError(
      `${command}: --${flag}, expected only the escapes \\n, \\t and \\\\, got '${match}' in '${value}'`,
    );
  });
}
