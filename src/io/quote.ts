// Untrusted text in error messages: names and values read from files are quoted with every control, format
// and separator character escaped, and cut to a bounded length, so a message is one printable line whatever
// the file holds (NUL bytes, ANSI escapes, bidi overrides, megabytes on one line).

const MAX_QUOTED = 60; // characters of the quoted text, escapes counted
const MAX_SHOWN = 80; // characters of a shown value
const MAX_DEPTH = 3; // nesting levels of a shown value; deeper ones print as [...] / {...}

// Controls (C0, DEL, C1), format characters (bidi overrides, zero-width, BOM, tags), lone surrogates, and the
// line and paragraph separators.
const UNSAFE = /[\p{Cc}\p{Cf}\p{Cs}\p{Zl}\p{Zp}]/u;
const SHORT: Record<string, string> = { '\n': '\\n', '\r': '\\r', '\t': '\\t', '\\': '\\\\' };

/** `'name'` (or `"name"`) with unsafe characters escaped and the text cut after about 60 characters. */
export function quote(text: string, mark: "'" | '"' = "'", max = MAX_QUOTED): string {
  let out = mark;
  let used = 0;
  for (const ch of text) {
    const escaped =
      ch === mark ? `\\${ch}` : (SHORT[ch] ?? (UNSAFE.test(ch) ? escape(ch.codePointAt(0)!) : ch));
    if (used + escaped.length > max) return `${out}...${mark} (${text.length} characters)`;
    out += escaped;
    used += escaped.length;
  }
  return out + mark;
}

function escape(code: number): string {
  const hex = code.toString(16).padStart(4, '0');
  return code > 0xffff ? `\\u{${hex}}` : `\\u${hex}`;
}

/** A value read from JSON, for `got ...`: strings quoted, containers cut short, never an exception. */
export function show(value: unknown, max = MAX_SHOWN): string {
  const text = render(value, 0, max);
  return text.length > max ? `${text.slice(0, max - 3)}...` : text;
}

function render(value: unknown, depth: number, budget: number): string {
  if (value === undefined) return 'nothing';
  if (typeof value === 'string') return quote(value, '"');
  if (typeof value !== 'object' || value === null) return String(value);
  const array = Array.isArray(value);
  if (depth >= MAX_DEPTH) return array ? '[...]' : '{...}';
  const parts: string[] = [];
  let length = 2;
  const entries = array ? (value as unknown[]).entries() : Object.entries(value);
  for (const [key, item] of entries) {
    if (length > budget) {
      parts.push('...');
      break;
    }
    const part = (array ? '' : `${quote(String(key), '"')}:`) + render(item, depth + 1, budget - length);
    parts.push(part);
    length += part.length + 1;
  }
  return array ? `[${parts.join(',')}]` : `{${parts.join(',')}}`;
}
