// A tokenizer from a model folder's files (NamedFiles: a folder on disk, or Blobs in a page). tokenizer.json wins
// (byte-level BPE: GPT-2, Llama 3, Qwen...; or the Llama SentencePiece kind, as isLlamaKind tells); else
// vocab.json + merges.txt with added tokens and unk from tokenizer_config.json / added_tokens.json; else tokenizer.model (SentencePiece). eos/bos come from
// config.json, else tokenizer_config.json, else the tokenizer's default (`<|endoftext|>`, or `<s>` / `</s>`);
// add_bos_token from tokenizer_config.json, else the kind's default (GPT-2 BPE false, SentencePiece true).

import { InputError, WeightsError } from '../util/errors.ts';
import { readJsonObject, type NamedFiles } from '../io/named-files.ts';
import { show } from '../io/quote.ts';
import { Gpt2Tokenizer } from './gpt2-bpe.ts';
import { fromTokenizerJson } from './byte-level-bpe-json.ts';
import { type AddedToken } from './tokenizer-json.ts';
import { fromLlamaTokenizerJson, fromSentencePieceModel } from './sentencepiece.ts';
import type { Tokenizer } from './tokenizer.ts';

export async function loadTokenizerFrom(files: NamedFiles): Promise<Tokenizer> {
  const tokenizer = await readTokenizer(files);
  const template = chatTemplateOf(files, await readJsonIfAny(files, 'tokenizer_config.json'));
  if (template !== undefined) tokenizer.chatTemplate = template;
  return tokenizer;
}

async function readJsonIfAny(files: NamedFiles, name: string): Promise<Record<string, unknown> | undefined> {
  return files.has(name) ? readJsonObject(files, name) : undefined;
}

// chat_template: a string, or a list of {name, template} of which the one named "default" is the chat's.
function chatTemplateOf(files: NamedFiles, config: Record<string, unknown> | undefined): string | undefined {
  let source = config?.chat_template;
  if (Array.isArray(source)) {
    source = (source as { name?: unknown; template?: unknown }[]).find(
      (t) => t?.name === 'default',
    )?.template;
  }
  if (source === undefined || source === null) return undefined;
  if (typeof source !== 'string') {
    throw new InputError(
      `${files.path('tokenizer_config.json')}: chat_template, expected a string or a list of {name, template}, got ${typeof source}`,
    );
  }
  return source.trim() === '' ? undefined : source;
}

async function readTokenizer(files: NamedFiles): Promise<Tokenizer> {
  const has = (name: string): boolean => files.has(name);
  const text = (name: string): Promise<string> => files.text(name);
  const json = async (name: string): Promise<Record<string, unknown> | undefined> =>
    has(name) ? readJsonObject(files, name) : undefined;
  const config = await json('config.json');
  const tokenizerConfig = await json('tokenizer_config.json');

  const eos = special(files, config, tokenizerConfig, 'eos');
  const bos = special(files, config, tokenizerConfig, 'bos');
  const addBos = addBosToken(files, tokenizerConfig);
  const names = { eos: eos.from, bos: bos.from, addBosToken: addBos.from };
  if (has('tokenizer.json')) {
    const file = files.path('tokenizer.json');
    const body = await text('tokenizer.json');
    const options = { file, eos: eos.value, bos: bos.value, addBosToken: addBos.value, names };
    return isLlamaKind(body) ? fromLlamaTokenizerJson(body, options) : fromTokenizerJson(body, options);
  }
  if (has('vocab.json') && has('merges.txt')) {
    return new Gpt2Tokenizer(await text('vocab.json'), await text('merges.txt'), {
      addedTokens: addedTokens(files, tokenizerConfig, await json('added_tokens.json')),
      unkToken: tokenContent(tokenizerConfig?.unk_token) ?? null,
      eos: eos.value,
      bos: bos.value,
      addBosToken: addBos.value,
      names: { ...names, vocab: files.path('vocab.json'), merges: files.path('merges.txt') },
    });
  }
  if (has('tokenizer.model')) {
    const file = files.path('tokenizer.model');
    const bytes = await files.bytes('tokenizer.model');
    return fromSentencePieceModel(bytes, {
      file,
      legacy: tokenizerConfig?.legacy === true,
      eos: eos.value,
      bos: bos.value,
      addBosToken: addBos.value,
      names,
    });
  }
  throw new InputError(
    `${files.where}: no tokenizer files, expected tokenizer.json, vocab.json + merges.txt or tokenizer.model, ` +
      `got [${files.names.join(', ')}]`,
  );
}

// The kind a tokenizer.json says it is: byte-level BPE when its pre-tokenizer is (or ends in) ByteLevel;
// SentencePiece-style (converted from a Llama tokenizer.model) when it is BPE with byte fallback, a Metaspace
// pre-tokenizer or a `▁` normalizer (Prepend / Replace) and no ByteLevel. Anything else goes to the byte-level
// reader, which names what it cannot take (and unparsable text, whose error says so).
function isLlamaKind(body: string): boolean {
  let root: { model?: { byte_fallback?: unknown }; normalizer?: unknown; pre_tokenizer?: unknown };
  try {
    root = JSON.parse(body);
  } catch {
    return false;
  }
  const pre = root?.pre_tokenizer as { type?: unknown; pretokenizers?: { type?: unknown }[] } | null;
  const stages = pre?.type === 'Sequence' && Array.isArray(pre.pretokenizers) ? pre.pretokenizers : [pre];
  if (stages.some((p) => p?.type === 'ByteLevel')) return false;
  const norm = root?.normalizer as { normalizers?: unknown } | null;
  const steps = (Array.isArray(norm?.normalizers) ? norm.normalizers : [norm]) as Record<string, unknown>[];
  const metaspace = (n: Record<string, unknown> | null): boolean =>
    (n?.type === 'Prepend' && n.prepend === '\u2581') || (n?.type === 'Replace' && n.content === '\u2581');
  return (
    root?.model?.byte_fallback === true ||
    stages.some((p) => p?.type === 'Metaspace') ||
    steps.some(metaspace)
  );
}

// tokenizer_config.json `added_tokens_decoder` ({"50256": {content, special, lstrip, rstrip}}) and the older
// added_tokens.json ({content: id}). undefined when neither says anything, so the `<|endoftext|>` default
// applies.
function addedTokens(
  files: NamedFiles,
  tokenizerConfig: Record<string, unknown> | undefined,
  addedJson: Record<string, unknown> | undefined,
): AddedToken[] | undefined {
  const out: AddedToken[] = [];
  const decoder = tokenizerConfig?.added_tokens_decoder;
  if (typeof decoder === 'object' && decoder !== null) {
    for (const [id, entry] of Object.entries(decoder as Record<string, Record<string, unknown>>)) {
      if (typeof entry?.content !== 'string' || !/^\d+$/.test(id)) {
        throw new WeightsError(
          `${files.path('tokenizer_config.json')}: added_tokens_decoder entry is malformed, expected ` +
            `"id": {content: string}, got ` +
            `${show(id)}: ${show(entry)}`,
        );
      }
      const { content, special, lstrip, rstrip } = entry;
      out.push({ id: Number(id), content, special: special !== false, lstrip: !!lstrip, rstrip: !!rstrip });
    }
  }
  for (const [content, id] of Object.entries(addedJson ?? {})) {
    if (!out.some((t) => t.content === content)) out.push({ id: id as number, content });
  }
  return out.length > 0 ? out : undefined;
}

// A token in tokenizer_config.json is either the string or {content: string, ...}.
function tokenContent(value: unknown): string | undefined {
  if (typeof value === 'string') return value;
  if (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as { content?: unknown }).content === 'string'
  ) {
    return (value as { content: string }).content;
  }
  return undefined;
}

// tokenizer_config.json `add_bos_token`; undefined leaves the tokenizer kind's default (GPT-2 no, SentencePiece yes).
function addBosToken(
  files: NamedFiles,
  tokenizerConfig: Record<string, unknown> | undefined,
): { value: boolean | undefined; from: string } {
  const from = `${files.path('tokenizer_config.json')} add_bos_token`;
  const value = tokenizerConfig?.add_bos_token;
  if (value !== undefined && value !== null && typeof value !== 'boolean') {
    throw new WeightsError(`${from}: not a boolean, expected true or false, got ${show(value)}`);
  }
  return { value: value ?? undefined, from };
}

// config.json `<kind>_token_id` (an id, or a list whose first entry is the main one), else
// tokenizer_config.json `<kind>_token`; undefined leaves the `<|endoftext|>` default. The tokenizer checks
// the value against its vocabulary.
function special(
  files: NamedFiles,
  config: Record<string, unknown> | undefined,
  tokenizerConfig: Record<string, unknown> | undefined,
  kind: 'eos' | 'bos',
): { value: number | string | undefined; from: string } {
  const id = config?.[`${kind}_token_id`];
  const first = Array.isArray(id) ? id[0] : id;
  const from = `${files.path('config.json')} ${kind}_token_id`;
  if (typeof first === 'number') return { value: first, from };
  if (first !== undefined && first !== null) {
    throw new WeightsError(`${from}: not a token id, expected an integer, got ${show(id)}`);
  }
  const content = tokenContent(tokenizerConfig?.[`${kind}_token`]);
  return { value: content, from: `${files.path('tokenizer_config.json')} ${kind}_token` };
}
