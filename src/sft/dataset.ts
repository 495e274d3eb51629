// SFT examples: tokenization of rows into examples whose mask marks loss targets, and
// truncation. Browser-safe.
import { InputError } from '../util/errors.ts';
import { checkPositiveInt } from '../util/check-args.ts';
import { modelInput, type Encoding, type Tokenizer } from '../tokenizers/tokenizer.ts';
import type { ChatMessage, DataRow } from './jsonl.ts';
import {
  assistantSpans,
  chatSpecials,
  chatTemplateFor,
  renderChat,
  type ChatTemplate,
} from './chat-template.ts';

/** A causal-LM example: mask[t] = 1 when ids[t] is a loss target (predicted from ids[0..t-1]); mask[0] = 0. */
export interface Example {
  ids: number[];
  mask: number[];
}

// User text is encoded with special tokens off, so a literal "<|endoftext|>" in data never becomes EOS.
const PLAIN = { allowSpecial: false } as const;

function eosOf(tokenizer: Tokenizer): number {
  if (tokenizer.eosId === null) {
    throw new InputError('tokenizer: no EOS token, expected an eosId for SFT examples, got null');
  }
  return tokenizer.eosId;
}

// A text's ids and offsets, with the given special token strings matched whole (a tokenizer.model reads `</s>` as
// plain text) and everything between them encoded as plain text.
function encodeSpans(tokenizer: Tokenizer, text: string, specials: readonly string[]): Encoding {
  const out: Encoding = { ids: [], offsets: [] };
  const tokens = specials.filter((t) => t !== '' && tokenizer.tokenToId(t) !== undefined);
  const add = (from: number, to: number): void => {
    if (to <= from) return;
    // After a special token a SentencePiece tokenizer puts its dummy prefix only where Hugging Face does.
    const e = tokenizer.encodeWithOffsets(text.slice(from, to), { ...PLAIN, continuation: from > 0 });
    out.ids.push(...e.ids);
    for (const [a, b] of e.offsets) out.offsets.push([a + from, b + from]);
  };
  let at = 0;
  for (let i = 0; i < text.length;) {
    const hit = tokens.find((t) => text.startsWith(t, i));
    if (hit === undefined) {
      i++;
      continue;
    }
    add(at, i);
    out.ids.push(tokenizer.tokenToId(hit)!);
    out.offsets.push([i, i + hit.length]);
    i += hit.length;
    at = i;
  }
  add(at, text.length);
  return out;
}

// Tokens marked as transformers marks a generation block: from the first token overlapping the span to the first
// token holding its last character (char_to_token), inclusive. So a character split over byte-level tokens (an emoji)
// is marked whole inside a span, and only its first token when it ends one; a zero-width token counts where it stands.
function maskBySpans(e: Encoding, spans: readonly [number, number][]): Example {
  const mask = e.ids.map(() => 0);
  const overlaps = ([a, b]: [number, number], s: number, t: number) =>
    b > a ? a < t && b > s : a >= s && a < t;
  for (const [s, t] of spans) {
    const first = e.offsets.findIndex((o) => overlaps(o, s, t));
    if (first < 0) continue;
    let last = e.offsets.length - 1;
    if (t !== Infinity) {
      const holder = e.offsets.findIndex(([a, b], i) => i >= first && a <= t - 1 && t - 1 < b);
      last = holder;
      if (holder < 0)
        for (let i = first; i < e.offsets.length; i++) if (overlaps(e.offsets[i], s, t)) last = i;
    }
    for (let i = first; i <= last; i++) mask[i] = 1;
  }
  return { ids: e.ids, mask };
}

/**
 * Tokenize one LM row as ONE text, with targets chosen by character span: a prompt/completion row is
 * BOS? + prompt + completion + EOS (targets: the completion and EOS, as TRL), a chat row the chat template's text
 * (targets: each assistant content and its end-of-turn token). One text, so a SentencePiece tokenizer puts its
 * dummy prefix `▁` once, not before every completion.
 */
export function tokenizeRow(row: DataRow, tokenizer: Tokenizer, chat?: ChatTemplate): Example {
  const eos = eosOf(tokenizer);
  let example: Example;
  switch (row.format) {
    case 'prompt-completion': {
      const e = tokenizer.encodeWithOffsets(row.prompt + row.completion, PLAIN);
      e.offsets.push([e.offsets.at(-1)?.[1] ?? 0, Infinity]);
      e.ids.push(eos);
      const from = row.prompt.length;
      example = maskBySpans(e, [[from, Infinity]]);
      example.ids = modelInput(tokenizer, example.ids);
      if (example.ids.length > example.mask.length) example.mask.unshift(0);
      break;
    }
    case 'messages': {
      const template = chat ?? chatTemplateFor(tokenizer);
      const text = renderChat(template, row.messages);
      const spans = assistantSpans(template, row.messages, text, `${row.file}:${row.line}`);
      example = maskBySpans(encodeSpans(tokenizer, text, chatSpecials(template)), spans);
      break;
    }
    case 'text': {
      const ids = tokenizer.encode(row.text, PLAIN);
      if (ids.length === 0)
        throw new InputError(`${row.file}:${row.line}: empty text, expected at least one token, got ""`);
      example = { ids: modelInput(tokenizer, [...ids, eos]), mask: [] };
      example.mask = example.ids.map((_, t) => (t < example.ids.length - ids.length - 1 ? 0 : 1));
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

/**
 * The ids a reply is generated after: the conversation rendered with the template's generation prompt (BOS, where
 * the model has one, comes from the template, as transformers' apply_chat_template does).
 */
export function chatPromptIds(
  tokenizer: Tokenizer,
  chat: ChatTemplate,
  messages: readonly ChatMessage[],
): number[] {
  const text = renderChat(chat, messages, { addGenerationPrompt: true });
  return encodeSpans(tokenizer, text, chatSpecials(chat)).ids;
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
  chat?: ChatTemplate,
): Example[] {
  const out: Example[] = [];
  const interval = progress?.intervalMs ?? 500;
  let last = Date.now();
  for (const row of rows) {
    out.push(tokenizeRow(row, tokenizer, chat));
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
