// SFT examples: the chat template, tokenization of rows into examples whose mask marks loss targets, and
// truncation. Browser-safe.
import { InputError } from '../util/errors.ts';
import { checkPositiveInt } from '../util/check-args.ts';
import { modelInput, type Tokenizer } from '../tokenizers/tokenizer.ts';
import type { ChatMessage, ChatRole, DataRow } from './jsonl.ts';

/** A causal-LM example: mask[t] = 1 when ids[t] is a loss target (predicted from ids[0..t-1]); mask[0] = 0. */
export interface Example {
  ids: number[];
  mask: number[];
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
