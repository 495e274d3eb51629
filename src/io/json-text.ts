// JSON.parse for files: nesting refused past a depth no config, tokenizer or data file comes near (the parse
// itself copes, but every recursive walk after it, JSON.stringify included, overflows the stack), and syntax
// errors located by line and column instead of V8's message, which quotes the file's text.

const MAX_JSON_DEPTH = 256;

/** JSON.parse(text), or fail(what, got) with a message that holds no text of the file. */
export function parseJsonText(
  text: string,
  fail: (what: string, got: string) => Error,
  maxDepth = MAX_JSON_DEPTH,
): unknown {
  const deep = depthExceededAt(text, maxDepth);
  if (deep >= 0) {
    throw fail('JSON nested too deeply', `more than ${maxDepth} levels at ${where(text, deep)}`);
  }
  try {
    return JSON.parse(text);
  } catch (e) {
    if (!(e instanceof SyntaxError)) throw fail('not readable as JSON', (e as Error).name);
    const at = errorOffset(text, e.message);
    const got = at >= text.length ? 'text that ends inside a value' : 'a syntax error';
    throw fail('not valid JSON', `${got} at ${where(text, at)}`);
  }
}

// The offset of the bracket that opens level maxDepth + 1, or -1. Strings are skipped, so brackets in them do
// not count; the scan runs on any text, valid or not.
function depthExceededAt(text: string, maxDepth: number): number {
  let depth = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x22) {
      for (i++; i < text.length && text.charCodeAt(i) !== 0x22; i++) if (text.charCodeAt(i) === 0x5c) i++;
    } else if (c === 0x7b || c === 0x5b) {
      if (++depth > maxDepth) return i;
    } else if (c === 0x7d || c === 0x5d) depth--;
  }
  return -1;
}

// V8 gives `at position N` for most errors; for an unexpected token it quotes text instead, so the offset is
// found by bisection: a prefix that stops before the error is valid JSON or ends early, one past it is not.
function errorOffset(text: string, message: string): number {
  const given = /at position (\d+)/.exec(message);
  if (given) return Number(given[1]);
  if (message.startsWith('Unexpected end')) return text.length;
  const endsEarly = (n: number): boolean => {
    try {
      JSON.parse(text.slice(0, n));
      return true;
    } catch (e) {
      const m = (e as Error).message;
      const at = /at position (\d+)/.exec(m);
      return m.startsWith('Unexpected end') || (at !== null && Number(at[1]) >= n);
    }
  };
  let lo = 0; // endsEarly(lo)
  let hi = text.length; // !endsEarly(hi)
  while (hi - lo > 1) {
    const mid = (lo + hi) >> 1;
    if (endsEarly(mid)) lo = mid;
    else hi = mid;
  }
  return lo;
}

// `line L, column C` (1-based, columns in UTF-16 units).
function where(text: string, offset: number): string {
  let line = 1;
  let lineStart = 0;
  for (let i = text.indexOf('\n'); i >= 0 && i < offset; i = text.indexOf('\n', i + 1)) {
    line++;
    lineStart = i + 1;
  }
  return `line ${line}, column ${offset - lineStart + 1}`;
}
