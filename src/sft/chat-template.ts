// Chat rows rendered with the model's chat_template (Jinja, from tokenizer_config.json) as transformers'
// apply_chat_template does, and the character spans of assistant turns that carry the loss: each assistant content
// and the end-of-turn token right after it, as TRL's assistant-only loss marks them. Browser-safe.
import { Template } from '@huggingface/jinja';
import { InputError } from '../util/errors.ts';
import { show } from '../io/quote.ts';
import type { Tokenizer } from '../tokenizers/tokenizer.ts';
import type { ChatMessage } from './jsonl.ts';

export interface ChatTemplate {
  source: string; // the Jinja text, as written into a checkpoint's tokenizer_config.json
  fallback: boolean; // true: the model has none, and the `Role:\ncontent` template below stands in
  bosToken: string;
  eosToken: string;
}

// The template of models without one: each turn `<Role>:\n<content>\n\n`, an assistant content followed directly
// by EOS, and BOS first where the tokenizer adds one. `User:\nHi\n\nAssistant:\nHello!<EOS>\n\n`.
const FALLBACK_BODY =
  "{%- for message in messages %}{{ message['role'] | capitalize }}{{ ':\\n' }}" +
  "{%- if message['role'] == 'assistant' %}{% generation %}{{ message['content'] + eos_token }}{% endgeneration %}" +
  "{%- else %}{{ message['content'] }}{%- endif %}{{ '\\n\\n' }}{%- endfor %}" +
  "{%- if add_generation_prompt %}{{ 'Assistant:\\n' }}{%- endif %}";

// {% generation %} marks (TRL's training templates) are for transformers' masks; the spans are found below instead.
const GENERATION_MARK = /\{%-?\s*(?:end)?generation\s*-?%\}/g;

function tokenText(tokenizer: Tokenizer, id: number | null): string {
  return id === null ? '' : (tokenizer.idToToken(id) ?? '');
}

/**
 * The model's template: tokenizerConfig's chat_template when given (a string, or a list of {name, template} with
 * one named "default"), else the one the tokenizer was loaded with (tokenizer.chatTemplate), else the fallback.
 * `where` names the file in errors.
 */
export function chatTemplateFor(
  tokenizer: Tokenizer,
  tokenizerConfig?: Record<string, unknown>,
  where = 'tokenizer_config.json',
): ChatTemplate {
  const bosToken = tokenText(tokenizer, tokenizer.bosId);
  const eosToken = tokenText(tokenizer, tokenizer.eosId);
  let source = tokenizerConfig ? tokenizerConfig.chat_template : tokenizer.chatTemplate;
  if (Array.isArray(source)) {
    source = (source as { name?: unknown; template?: unknown }[]).find(
      (t) => t?.name === 'default',
    )?.template;
  }
  if (source !== undefined && source !== null && typeof source !== 'string') {
    throw new InputError(`${where}: chat_template, expected a string, got ${typeof source}`);
  }
  if (typeof source === 'string' && source.trim() !== '')
    return { source, fallback: false, bosToken, eosToken };
  const bos = tokenizer.addBosToken && tokenizer.bosId !== null ? '{{ bos_token }}' : '';
  return { source: bos + FALLBACK_BODY, fallback: true, bosToken, eosToken };
}

/** The line a run prints once when chat rows meet a model without a template. */
export const FALLBACK_NOTE =
  "chat template: the model's tokenizer_config.json has no chat_template, so chat rows are rendered with the " +
  'fallback `Role:\ncontent` template (each assistant turn ends with EOS; checkpoints carry it as chat_template)';

const compiled = new Map<string, Template>();

/** The text of a conversation; addGenerationPrompt ends it where the assistant's reply begins. */
export function renderChat(
  chat: ChatTemplate,
  messages: readonly ChatMessage[],
  options: { addGenerationPrompt?: boolean } = {},
): string {
  let template = compiled.get(chat.source);
  if (!template) {
    template = new Template(chat.source.replace(GENERATION_MARK, ''));
    compiled.set(chat.source, template);
  }
  return template.render({
    messages: messages.map((m) => ({ role: m.role, content: m.content })),
    add_generation_prompt: options.addGenerationPrompt ?? false,
    bos_token: chat.bosToken,
    eos_token: chat.eosToken,
  });
}

// Tokens that close a turn in the common templates, besides the model's EOS.
const END_OF_TURN = ['<|im_end|>', '<|eot_id|>', '<end_of_turn>', '<|end|>'];

/** The token strings a rendered chat holds as single tokens: BOS, EOS and the end-of-turn tokens. */
export function chatSpecials(chat: ChatTemplate): string[] {
  return [chat.bosToken, chat.eosToken, ...END_OF_TURN, '<|im_start|>'];
}

/**
 * [start, end) in `text` (rendered from messages) of each assistant content plus the end-of-turn token that
 * follows it: the contents are found in order, each after the previous one.
 */
export function assistantSpans(
  chat: ChatTemplate,
  messages: readonly ChatMessage[],
  text: string,
  where: string,
): [number, number][] {
  const ends = [chat.eosToken, ...END_OF_TURN].filter((t) => t !== '');
  const spans: [number, number][] = [];
  let cursor = 0;
  messages.forEach((m, i) => {
    if (m.role === 'assistant' && m.content !== '') {
      const start = text.indexOf(m.content, cursor);
      if (start < 0) {
        throw new InputError(
          `${where}: messages[${i}], expected the assistant content in the text the chat template renders, got ` +
            `none (the template changes it: ${show(m.content.slice(0, 40))})`,
        );
      }
      const contentEnd = start + m.content.length;
      const close = ends.find((t) => text.startsWith(t, contentEnd));
      const end = contentEnd + (close?.length ?? 0);
      // The fallback's generation block holds content and EOS; a model's (as TRL tags Qwen3's) one block each.
      if (chat.fallback || close === undefined) spans.push([start, end]);
      else spans.push([start, contentEnd], [contentEnd, end]);
      cursor = end;
    } else if (m.content !== '') {
      const at = text.indexOf(m.content, cursor); // past it, so an assistant text quoted in it is not taken
      if (at >= 0) cursor = at + m.content.length;
    }
  });
  return spans;
}
