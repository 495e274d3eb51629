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
}

export type Flags = Record<string, string | boolean | number | undefined>;

export function parseFlags(command: string, argv: string[], spec: Record<string, FlagSpec>): Flags {
  const options: Record<string, { type: 'string' | 'boolean' }> = {};
  for (const [name, s] of Object.entries(spec)) options[name] = { type: s.type === 'boolean' ? 'boolean' : 'string' };
  options.help = { type: 'boolean' };
  let values: Record<string, string | boolean | undefined>;
  try {
    ({ values } = parseArgs({ args: argv, options, strict: true, allowPositionals: false }));
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
      if (raw === '' || !Number.isFinite(n) || (s.type === 'int' && !Number.isInteger(n))) {
        throw new UsageError(`${command}: --${name}, expected ${s.type === 'int' ? 'an integer' : 'a number'}, got '${String(raw)}'`);
      }
      out[name] = n;
    } else if (s.choices && !s.choices.includes(String(raw))) {
      throw new UsageError(`${command}: --${name}, expected one of ${s.choices.join('|')}, got '${String(raw)}'`);
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
    throw new UsageError(`${command}: --${flag}, expected only the escapes \\n, \\t and \\\\, got '${match}' in '${value}'`);
  });
}
