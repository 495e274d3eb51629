// Oniguruma (the regex engine of Hugging Face's tokenizers) patterns of a tokenizer.json Split pre-tokenizer or
// Replace normalizer, rewritten as a JavaScript `u` regex with the same matches: \s is Unicode White_Space (JS's
// \s differs at U+FEFF and U+0085), \d \w are Unicode (Nd; L M Nd Pc), `.` stops only at \n, (?i:...) spells
// each letter's cases out, possessive quantifiers and atomic groups (?>...) become a lookahead capture plus a
// backreference (JS has neither), \x{HHHH} is \u{HHHH}. Anything else Oniguruma-only is refused by name.
import { WeightsError } from '../util/errors.ts';
import { show } from '../io/quote.ts';

const WORD = '\\p{L}\\p{M}\\p{Nd}\\p{Pc}';
const CLASS_ESCAPES: Record<string, string> = {
  s: '\\p{White_Space}',
  S: '\\P{White_Space}',
  d: '\\p{Nd}',
  D: '\\P{Nd}',
  w: WORD,
};
const ESCAPES: Record<string, string> = {
  ...CLASS_ESCAPES,
  w: `[${WORD}]`,
  W: `[^${WORD}]`,
  A: '^',
  z: '$',
  Z: '(?=\\n?$)',
};
const SYNTAX = new Set('^$\\.*+?()[]{}|/');

/** A JS RegExp (flags `gu`) matching what the Oniguruma pattern matches; where: how errors name it. */
export function translateRegex(pattern: string, where: string): RegExp {
  const out = new Translator(pattern, where).run();
  try {
    return new RegExp(out, 'gu');
  } catch (e) {
    throw new WeightsError(
      `${where}: regex is not supported, expected an Oniguruma pattern JavaScript can run, got ` +
        `${show(pattern)} (${(e as Error).message})`,
    );
  }
}

/** A literal string as a JS regex that matches it. */
export function literalRegex(text: string): RegExp {
  return new RegExp(text.replace(/[\^$\\.*+?()[\]{}|/]/g, '\\$&'), 'gu');
}

class Translator {
  private i = 0;
  private atomics = 0;

  constructor(
    private readonly p: string,
    private readonly where: string,
  ) {}

  run(): string {
    const out = this.sequence(false);
    if (this.i < this.p.length) this.refuse(`an unmatched ")" at ${this.i}`);
    return out;
  }

  private refuse(what: string): never {
    throw new WeightsError(
      `${this.where}: regex is not supported, expected an Oniguruma pattern without ${what}, got ` +
        show(this.p),
    );
  }

  // Atoms with their quantifiers until ")" or the end; `|` passes through.
  private sequence(ignoreCase: boolean): string {
    let out = '';
    while (this.i < this.p.length && this.p[this.i] !== ')') {
      if (this.p[this.i] === '|') {
        out += '|';
        this.i++;
        continue;
      }
      const atom = this.atom(ignoreCase);
      out += this.quantified(atom);
    }
    return out;
  }

  private quantified(atom: string): string {
    const p = this.p;
    let q = '';
    const brace = /^\{(\d*),?(\d*)\}/.exec(p.slice(this.i));
    if ('*+?'.includes(p[this.i] ?? 'x')) {
      q = p[this.i++];
    } else if (brace && (brace[1] !== '' || brace[2] !== '')) {
      q = brace[1] === '' ? `{0,${brace[2]}}` : brace[0];
      this.i += brace[0].length;
    }
    if (q === '') return atom;
    if (p[this.i] === '?') {
      this.i++;
      return `${atom}${q}?`;
    }
    if (p[this.i] === '+') {
      this.i++;
      return this.atomic(`(?:${atom})${q}`);
    }
    return `${atom}${q}`;
  }

  // Match x once, never backtrack into it: capture it in a lookahead, then consume the capture.
  private atomic(x: string): string {
    const name = `atomic${this.atomics++}`;
    return `(?:(?=(?<${name}>${x}))\\k<${name}>)`;
  }

  private atom(ignoreCase: boolean): string {
    const p = this.p;
    const c = p[this.i];
    if (c === '(') return this.group(ignoreCase);
    if (c === '[') return this.charClass(ignoreCase);
    if (c === '\\') return this.escape(false, ignoreCase);
    const ch = String.fromCodePoint(p.codePointAt(this.i)!);
    this.i += ch.length;
    if (c === '.') return '[^\\n]';
    if (c === '^') return '(?:^|(?<=\\n))'; // Ruby syntax: ^ and $ are line anchors
    if (c === '$') return '(?=\\n|$)';
    if (c === '{' || c === '}' || c === ']') return `\\${c}`;
    if ('*+?'.includes(c)) this.refuse(`a quantifier with nothing to repeat at ${this.i - 1}`);
    return ignoreCase ? cases(ch, false) : ch;
  }

  private group(ignoreCase: boolean): string {
    const p = this.p;
    const rest = p.slice(this.i);
    const head = /^\(\?(?:[:=!>]|<[=!]|<[A-Za-z_]\w*>|i:|#)|^\(/.exec(rest)![0];
    if (head === '(?' || (rest.startsWith('(?') && head === '(')) {
      this.refuse(`the group syntax ${show(rest.slice(0, 4))}`);
    }
    this.i += head.length;
    if (head === '(?#') {
      const end = p.indexOf(')', this.i);
      this.i = end < 0 ? p.length : end + 1;
      return '';
    }
    const inner = this.sequence(ignoreCase || head === '(?i:');
    if (p[this.i] !== ')') this.refuse('an unclosed group');
    this.i++;
    if (head === '(?>') return this.atomic(inner);
    return `${head === '(?i:' ? '(?:' : head}${inner})`;
  }

  private charClass(ignoreCase: boolean): string {
    const p = this.p;
    this.i++;
    let out = '[';
    if (p[this.i] === '^') {
      out += '^';
      this.i++;
    }
    let first = true;
    while (this.i < p.length && (p[this.i] !== ']' || first)) {
      const c = p[this.i];
      if (c === '[') this.refuse('a nested character class or [:posix:] class');
      if (c === '&' && p[this.i + 1] === '&') this.refuse('class intersection &&');
      if (c === '\\') {
        out += this.escape(true, ignoreCase);
      } else {
        const ch = String.fromCodePoint(p.codePointAt(this.i)!);
        this.i += ch.length;
        out += ch === '-' && !first && p[this.i] !== ']' ? '-' : ignoreCase ? cases(ch, true) : escapeIn(ch);
      }
      first = false;
    }
    if (p[this.i] !== ']') this.refuse('an unclosed character class');
    this.i++;
    return `${out}]`;
  }

  private escape(inClass: boolean, ignoreCase: boolean): string {
    const p = this.p;
    const c = p[this.i + 1];
    if (c === undefined) this.refuse('a trailing backslash');
    this.i += 2;
    if (c === 'p' || c === 'P') {
      const m = /^\{\^?[\w=]+\}|^[A-Za-z]/.exec(p.slice(this.i));
      if (!m) this.refuse(`a malformed \\${c}`);
      this.i += m[0].length;
      const negated = m[0].startsWith('{^');
      const name = m[0].replace(/^\{\^?|\}$/g, '');
      return `\\${(c === 'P') !== negated ? 'P' : 'p'}{${name}}`;
    }
    if (c === 'x' && p[this.i] === '{') {
      const end = p.indexOf('}', this.i);
      const hex = p.slice(this.i + 1, end);
      if (end < 0 || !/^[0-9A-Fa-f]{1,6}$/.test(hex)) this.refuse('a malformed \\x{...}');
      this.i = end + 1;
      return `\\u{${hex}}`;
    }
    if (c === 'x' || c === 'u') {
      const n = c === 'x' ? 2 : 4;
      const hex = p.slice(this.i, this.i + n);
      if (!new RegExp(`^[0-9A-Fa-f]{${n}}$`).test(hex)) this.refuse(`a malformed \\${c}`);
      this.i += n;
      return `\\${c}${hex}`;
    }
    const table = inClass ? CLASS_ESCAPES : ESCAPES;
    if (Object.hasOwn(table, c)) return table[c];
    if ('tnrfve'.includes(c)) return c === 'e' ? '\\x1b' : c === 'v' ? '\\x0b' : `\\${c}`;
    if (!inClass && 'bB'.includes(c)) return `\\${c}`;
    if (/[0-9A-Za-z]/.test(c)) this.refuse(`the escape \\${c}`);
    if (inClass) return escapeIn(c);
    if (ignoreCase) return cases(c, false);
    return SYNTAX.has(c) ? `\\${c}` : c;
  }
}

// A character inside a JS `u` class.
function escapeIn(ch: string): string {
  return /[\\\]\[^-]/.test(ch) ? `\\${ch}` : ch;
}

// Both cases of a letter, for (?i:...): `[sS]` outside a class, `sS` inside one.
function cases(ch: string, inClass: boolean): string {
  const lower = ch.toLowerCase();
  const upper = ch.toUpperCase();
  const all = [...new Set([ch, lower, upper].filter((s) => [...s].length === 1))];
  if (all.length === 1) return inClass ? escapeIn(ch) : SYNTAX.has(ch) ? `\\${ch}` : ch;
  const body = all.map(escapeIn).join('');
  return inClass ? body : `[${body}]`;
}
