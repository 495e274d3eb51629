// Chat templates and one-text row tokenization vs TRL 1.13 / transformers 5 (tools/chat_reference.py ->
// test/fixtures/chat-reference.json): prompt/completion and chat rows for stories260K and GPT-2, the Qwen3 template.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { tokenizeRow, type Example } from '../../src/sft/dataset.ts';
import { assistantSpans, chatTemplateFor, renderChat } from '../../src/sft/chat-template.ts';
import { parseRows } from '../../src/sft/jsonl.ts';
import { loadTokenizer } from '../../src/tokenizers/load-node.ts';
import type { ChatMessage } from '../../src/sft/jsonl.ts';

const ROOT = join(import.meta.dirname, '../..');
const ref = JSON.parse(readFileSync(join(ROOT, 'test/fixtures/chat-reference.json'), 'utf8'));
const rows = readFileSync(join(ROOT, 'assets/sft/dialogue/val.jsonl'), 'utf8')
  .split('\n')
  .filter((l) => l.trim())
  .map((l) => JSON.parse(l));
const MODELS = { stories260K: 'assets/stories260K-hf', gpt2: 'assets/gpt2-shakespeare' } as const;

function matches(got: Example[], want: Example[]): number {
  return got.filter((e, i) => JSON.stringify(e) === JSON.stringify(want[i])).length;
}

describe.each(Object.entries(MODELS))('%s vs TRL 1.13', async (name, dir) => {
  const tokenizer = await loadTokenizer(join(ROOT, dir));
  it('prompt/completion rows: the same ids and completion masks, row by row', () => {
    const data = parseRows(rows, 'val.jsonl');
    const got = data.rows.map((r) => tokenizeRow(r, tokenizer));
    const want = ref.prompt_completion[name];
    expect(matches(got, want.examples)).toBe(136);
    expect(got.reduce((s, e) => s + e.mask.filter((m) => m === 1).length, 0)).toBe(want.targets);
  });
  it('chat rows with the fallback template: the same text, ids and assistant masks', () => {
    const chat = chatTemplateFor(tokenizer, undefined);
    expect(chat.source.endsWith(ref.fallback_template)).toBe(true);
    const data = parseRows(ref.chats, 'chats');
    expect(renderChat(chat, ref.chats[0].messages)).toBe(ref.chat[name].texts[0]);
    const got = data.rows.map((r) => tokenizeRow(r, tokenizer, chat));
    const n = matches(got, ref.chat[name].examples);
    // stories260K: after a special token (`</s>`, `<s>`) transformers' LlamaTokenizer (legacy false: Metaspace
    // prepend_scheme "first") puts no dummy `▁`, and the engine's encode with `continuation` puts none either.
    expect(n).toBe(34);
  });
});

describe('Qwen3 template (test/fixtures/tokenizers/qwen3) vs apply_chat_template', async () => {
  const folder = join(ROOT, 'test/fixtures/tokenizers/qwen3');
  // The engine cannot load this tokenizer.json yet (NFC normalizer), so a stand-in tokenizer gives BOS/EOS: the
  // template's text is checked here, the ids and masks when the Qwen3 tokenizer loads (the fixture holds them).
  const tokenizer = await loadTokenizer(join(ROOT, MODELS.gpt2));
  const config = JSON.parse(readFileSync(join(folder, 'tokenizer_config.json'), 'utf8'));
  const chat = chatTemplateFor(tokenizer, config);
  it('tokenizes to the same ids and assistant masks with the Qwen3 tokenizer', async () => {
    const qwen = await loadTokenizer(folder);
    const qchat = chatTemplateFor(qwen, config);
    let masks = 0;
    for (const c of ref.qwen3.cases) {
      const e = tokenizeRow(parseRows([{ messages: c.messages }], 'q').rows[0], qwen, qchat);
      expect(e.ids).toEqual(c.ids);
      if (JSON.stringify(e.mask) === JSON.stringify(c.mask)) masks++;
    }
    // Every case, including the third, where transformers leaves out the second of the two byte-level tokens of the
    // emoji that ends an assistant turn (char_to_token gives the first token holding a character); so does the engine.
    expect(masks).toBe(ref.qwen3.cases.length);
  });
  it('renders the same text, and finds every assistant turn and its <|im_end|> (two spans, as the tagged template)', () => {
    expect(chat.fallback).toBe(false);
    for (const c of ref.qwen3.cases) {
      expect(renderChat(chat, c.messages)).toBe(c.text);
      const spans = assistantSpans(chat, c.messages as ChatMessage[], c.text, 'q');
      const turns = c.messages.filter((m: ChatMessage) => m.role === 'assistant');
      expect(spans.length).toBe(2 * turns.length);
      spans.forEach(([a, b], i) => {
        if (i % 2 === 1) expect(c.text.slice(a, b)).toBe('<|im_end|>');
        else expect(c.text.slice(a, b)).toBe(turns[i / 2].content.replace(/^\n+/, ''));
      });
    }
    const g = ref.qwen3.generation_prompt;
    expect(renderChat(chat, g.messages, { addGenerationPrompt: true })).toBe(g.text);
  });
});

describe('SentencePiece text after a special token (encode option continuation)', async () => {
  const folder = join(ROOT, MODELS.stories260K);
  const first = await loadTokenizer(folder);
  // tokenizer_config.json legacy: true is transformers' prepend_scheme "always": a `▁` after special tokens too
  const { mkdtempSync, symlinkSync, writeFileSync } = await import('node:fs');
  const legacyFolder = mkdtempSync(join((await import('node:os')).tmpdir(), 'legacy-'));
  for (const f of ['config.json', 'tokenizer.model']) symlinkSync(join(folder, f), join(legacyFolder, f));
  writeFileSync(join(legacyFolder, 'tokenizer_config.json'), '{"legacy": true}');
  const legacy = await loadTokenizer(legacyFolder);
  it('puts no dummy prefix where transformers puts none, and one where legacy asks for it', () => {
    const pieces = (t: typeof first, text: string, continuation: boolean) =>
      t.encode(text, { allowSpecial: false, continuation }).map((id) => t.idToToken(id));
    expect(pieces(first, 'User:\nHi', false)[0]).toBe('\u2581');
    expect(pieces(first, 'User:\nHi', true)).toEqual(['U', 's', 'er', ':', '<0x0A>', 'H', 'i']); // as transformers
    expect(pieces(legacy, 'User:\nHi', true)).toEqual(pieces(first, 'User:\nHi', false));
    expect(pieces(first, ' b', true)).toEqual(pieces(first, 'b', false)); // `a</s> b` -> `▁b`, as transformers
  });
});

describe('characters split over byte-level tokens (CJK, emoji) inside a target span', async () => {
  const gpt2 = await loadTokenizer(join(ROOT, MODELS.gpt2));
  const qwenFolder = join(ROOT, 'test/fixtures/tokenizers/qwen3');
  const qwen = await loadTokenizer(qwenFolder);
  const qchat = chatTemplateFor(
    qwen,
    JSON.parse(readFileSync(join(qwenFolder, 'tokenizer_config.json'), 'utf8')),
  );
  it('marks every completion token, continuation bytes included (TRL marks the completion by tokens)', () => {
    const row = parseRows([{ prompt: 'Q:', completion: ' 你好 ok 👋' }], 'p').rows[0];
    const e = tokenizeRow(row, gpt2);
    const prompt = gpt2.encode('Q:').length;
    expect(e.ids.length).toBeGreaterThan(prompt + 'ok'.length + 4); // 你, 好 and 👋 are split over several tokens
    expect(e.mask).toEqual(e.ids.map((_, i) => (i < prompt ? 0 : 1)));
  });
  it('marks an emoji inside an assistant turn whole, as transformers marks a generation block', () => {
    const row = parseRows(
      [
        {
          messages: [
            { role: 'user', content: 'Hi' },
            { role: 'assistant', content: 'Hi 👋 there' },
          ],
        },
      ],
      'q',
    ).rows[0];
    const e = tokenizeRow(row, qwen, qchat);
    const marked = e.ids.filter((_, i) => e.mask[i] === 1);
    expect(qwen.decode(marked)).toBe('Hi 👋 there<|im_end|>');
  });
});
