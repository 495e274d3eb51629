// Writes, for tools/check_chat_checkpoint.py, checkpoints as a run saves them (saveCheckpoint, config.json as job.ts
// writes it) of three tokenizer kinds: stories260K (SentencePiece, no template: the fallback with BOS), GPT-2
// (byte-level BPE, the fallback without BOS) and a Qwen3 model folder with the Qwen3 tokenizer files (its own
// template). Beside each, engine-chat.json: the engine's text and ids of test conversations (renderChat, tokenizeRow).
// Run: npx tsx scripts/chat-checkpoints.ts --out <folder>
import { mkdirSync, mkdtempSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { pathToFileURL } from 'node:url';
import { createDevice } from '../src/gpu/device.ts';
import type { Gpu } from '../src/gpu/gpu.ts';
import { loadModel } from '../src/models/load-node.ts';
import { loadTokenizer } from '../src/tokenizers/load-node.ts';
import { saveCheckpoint } from '../src/sft/checkpoint-node.ts';
import { chatTemplateFor, renderChat } from '../src/sft/chat-template.ts';
import { chatPromptIds, tokenizeRow } from '../src/sft/dataset.ts';
import { parseRows, type ChatMessage } from '../src/sft/jsonl.ts';

/** The conversations checked: a system turn, a multi-turn one, and a user turn alone (a generation prompt). */
export const CONVERSATIONS: ChatMessage[][] = [
  [
    { role: 'system', content: 'A scene from Shakespeare.' },
    { role: 'user', content: 'GONZALO:\nAll things in common nature should produce' },
    { role: 'assistant', content: 'Without sweat or endeavour: treason, felony,' },
  ],
  [
    { role: 'user', content: 'Hi there' },
    { role: 'assistant', content: 'Hello! How are you?' },
    { role: 'user', content: 'Fine.  Two spaces,\n\nand a blank line.' },
    { role: 'assistant', content: 'Good to hear.' },
  ],
];
export const GENERATION: ChatMessage[] = [{ role: 'user', content: 'Tell me a story.' }];

function linked(files: [string, string][]): string {
  const out = mkdtempSync(join(tmpdir(), 'chat-source-'));
  for (const [folder, name] of files) symlinkSync(resolve(folder, name), join(out, name));
  return out;
}

/**
 * name → the folders of the model and of the tokenizer a checkpoint is made from. The Qwen3 model is the small
 * random one of test/fixtures/families (vocabulary 192), so its tokenizer comes from its own folder: the checkpoint
 * holds both, for the tokenizer checks.
 */
export function sources(): Record<string, { model: string; tokenizer: string }> {
  const qwen = 'test/fixtures/families/qwen3';
  const tok = 'test/fixtures/tokenizers/qwen3';
  const same = (folder: string) => ({ model: folder, tokenizer: folder });
  const both = linked([[qwen, 'config.json'], [tok, 'tokenizer.json'], [tok, 'tokenizer_config.json']]);
  return { stories260K: same('assets/stories260K-hf'), gpt2: same('assets/gpt2-shakespeare'), qwen3: { model: qwen, tokenizer: both } };
}

/** Writes out/<name> for each source: the checkpoint and its engine-chat.json. */
export async function writeChatCheckpoints(gpu: Gpu, out: string): Promise<void> {
  for (const [name, source] of Object.entries(sources())) {
    const model = await loadModel(gpu, source.model);
    const tokenizer = await loadTokenizer(source.tokenizer);
    const folder = join(out, name);
    const config = { ...model.rawConfig, architectures: [model.hfClasses.causalLm] };
    await saveCheckpoint(folder, { model, config, sourceFolder: source.tokenizer, tokenizer, trainingArgs: {} });
    model.dispose();
    const chat = chatTemplateFor(tokenizer);
    const rows = parseRows(CONVERSATIONS.map((messages) => ({ messages })), name).rows;
    const engine = {
      conversations: CONVERSATIONS,
      generationMessages: GENERATION,
      texts: CONVERSATIONS.map((m) => renderChat(chat, m)),
      examples: rows.map((r) => tokenizeRow(r, tokenizer, chat)),
      generation: { text: renderChat(chat, GENERATION, { addGenerationPrompt: true }), ids: chatPromptIds(tokenizer, chat, GENERATION) },
    };
    writeFileSync(join(folder, 'engine-chat.json'), JSON.stringify(engine) + '\n');
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const { values } = parseArgs({ options: { out: { type: 'string' } } });
  if (!values.out) {
    console.error('chat-checkpoints: --out, expected a folder, got nothing');
    process.exit(2);
  }
  mkdirSync(values.out, { recursive: true });
  const gpu = await createDevice();
  await writeChatCheckpoints(gpu, values.out);
  gpu.dispose();
  console.log(readFileSync(join(values.out, 'qwen3', 'tokenizer_config.json'), 'utf8').length, 'bytes of qwen3 tokenizer_config.json');
}
