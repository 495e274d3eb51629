// Pieces both tokenizer.json readers use (GPT-2 BPE and SentencePiece-style): their options and added tokens, JSON
// parsing and shape checks that name the file, and the splitter that cuts text at added (special) tokens before the
// model sees it.
import { WeightsError } from '../util/errors.ts';
import { parseJsonText } from '../io/json-text.ts';

export interface AddedToken {
  id: number;
  content: string;
  special?: boolean; // default true; only special tokens are turned off by `allowSpecial: false`
  lstrip?: boolean; // also swallow the whitespace on its left
  rstrip?: boolean; // also swallow the whitespace on its right
}

/** An added_tokens entry whose id and content its reader has checked, with tokenizers' defaults for the flags. */
export function addedToken(t: Record<string, unknown>): AddedToken {
  return {
    id: t.id as number,
    content: t.content as string,
    special: t.special !== false,
    lstrip: !!t.lstrip,
    rstrip: !!t.rstrip,
  };
}

export interface TokenizerJsonOptions {
  eos?: number | string | null; // as in Gpt2TokenizerOptions
  bos?: number | string | null;
  addBosToken?: boolean; // model inputs begin with bos (add_bos_token); default: the tokenizer kind's
  file?: string; // how errors name the file; default 'tokenizer.json'
  names?: { eos?: string; bos?: string; addBosToken?: string }; // how errors name where each came from
}

/** add_bos_token needs a BOS token to add. */
export function checkAddBos(addBosToken: boolean, bosId: number | null, where: string): boolean {
  if (addBosToken && bosId === null) {
    throw new WeightsError(
      `${where}: add_bos_token is true but there is no BOS token, expected a bos id or token, got none`,
    );
  }
  return addBosToken;
}

export function parseJson(text: string, where: string): unknown {
  return parseJsonText(
    text,
    (what, got) => new WeightsError(`${where}: ${what}, expected a JSON document, got ${got}`),
  );
}

export function asObject(value: unknown, file: string, what: string): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    const got = value === null ? 'null' : Array.isArray(value) ? 'an array' : typeof value;
    throw new WeightsError(`${file}: ${what} is not an object, expected a JSON object, got ${got}`);
  }
  return value as Record<string, unknown>;
}

// One regex alternative per added token, longest first so the longest match wins; group k + 1 is tokens[k].
export function splitter(tokens: AddedToken[], keep: (t: AddedToken) => boolean): RegExp | null {
  const escape = (s: string): string => s.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
  const parts = tokens.map((t) =>
    keep(t)
      ? `${t.lstrip ? '\\p{White_Space}*' : ''}(${escape(t.content)})${t.rstrip ? '\\p{White_Space}*' : ''}`
      : '(?!)()',
  );
  return tokens.some(keep) ? new RegExp(parts.join('|'), 'gu') : null;
}
