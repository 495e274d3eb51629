// Checkpoints as transformers/TRL users load them (tools/check_chat_checkpoint.py -> test/fixtures/chat-checkpoint.json):
// the engine still writes the tokenizer_config.json (chat_template, pad_token) and config.json dtype that transformers
// loaded there, and renders the conversations as transformers' apply_chat_template did from those files.
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { testGpu } from '../helpers/gpu.ts';
import { writeChatCheckpoints } from '../../scripts/chat-checkpoints.ts';

const fixture = JSON.parse(readFileSync('test/fixtures/chat-checkpoint.json', 'utf8'));
const read = (path: string) => JSON.parse(readFileSync(path, 'utf8'));

describe('checkpoint files vs what transformers loaded', async () => {
  const out = mkdtempSync(join(tmpdir(), 'chat-checkpoint-'));
  await writeChatCheckpoints(await testGpu(), out);

  it.each(['stories260K', 'gpt2', 'qwen3'])('%s', (name) => {
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
    if (name !== 'stories260K') expect(engine.examples.map((e: { ids: number[] }) => e.ids)).toEqual(want.ids);
    if (want.masks[0] !== null && name !== 'stories260K') expect(engine.examples.map((e: { mask: number[] }) => e.mask)).toEqual(want.masks);
    expect(want.tokenizer_config.chat_template.length).toBeGreaterThan(100);
  });
});
