// Checkpoints as transformers/TRL users load them (tools/check_chat_checkpoint.py -> test/fixtures/chat-checkpoint.json):
// the engine still writes the tokenizer_config.json (chat_template, pad_token) and config.json dtype that transformers
// loaded there, and renders the conversations as transformers' apply_chat_template did from those files.
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { testGpu } from '../helpers/gpu.ts';
import { CONVERSATIONS, writeChatCheckpoints } from '../../scripts/chat-checkpoints.ts';
import { loadTokenizer } from '../../src/tokenizers/load-node.ts';

const fixture = JSON.parse(readFileSync('test/fixtures/chat-checkpoint.json', 'utf8'));
const read = (path: string) => JSON.parse(readFileSync(path, 'utf8'));

describe('checkpoint files vs what transformers loaded', async () => {
  const out = mkdtempSync(join(tmpdir(), 'chat-checkpoint-'));
  await writeChatCheckpoints(await testGpu(), out);

  it.each(['stories260K', 'gpt2', 'qwen3'])('%s', async (name) => {
    const want = fixture[name];
    const folder = join(out, name);
    // the files transformers read: same tokenizer_config.json, dtype as loaded (a model of float32 weights)
    expect(read(join(folder, 'tokenizer_config.json'))).toEqual(want.tokenizer_config);
    expect(read(join(folder, 'config.json')).dtype).toBe(want.config_dtype);
    expect(want.loaded_dtype).toBe(want.config_dtype);
    expect(want.padding.ok).toBe(true);
    expect(want.padding.pad_token).toBe(want.tokenizer_config.pad_token);
    // what the engine trains and generates from: transformers' text, ids and assistant masks
    const engine = read(join(folder, 'engine-chat.json'));
    expect(engine.texts).toEqual(want.texts);
    expect(engine.generation).toEqual(want.generation);
    const ids = engine.examples.map((e: { ids: number[] }) => e.ids);
    const masks = engine.examples.map((e: { mask: number[] }) => e.mask);
    if (name === 'stories260K') {
      // The one difference left: stories260K's tokenizer.model sets remove_extra_whitespaces, which the engine
      // follows as the sentencepiece library does (`.  Two` -> `.`, `▁T`); transformers' LlamaTokenizer has no
      // normalizer and keeps a `▁` per space (`.`, `▁`, `▁T`). Without the extra `▁` its ids are the engine's.
      const space = want.ids[1].findIndex((id: number, t: number) => id !== ids[1][t]);
      const tokenizer = await loadTokenizer(join(out, name));
      expect(tokenizer.idToToken(want.ids[1][space])).toBe('\u2581');
      expect(CONVERSATIONS[1][2].content).toContain('.  Two');
      expect([...want.ids[1].slice(0, space), ...want.ids[1].slice(space + 1)]).toEqual(ids[1]);
      expect([want.ids[0], want.masks[0]]).toEqual([ids[0], masks[0]]);
      return;
    }
    expect(ids).toEqual(want.ids);
    if (want.masks[0] !== null) expect(masks).toEqual(want.masks);
    expect(want.tokenizer_config.chat_template.length).toBeGreaterThan(100);
  });
});
