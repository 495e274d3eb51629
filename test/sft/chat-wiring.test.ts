// The chat template through what trains, evaluates and generates: the template a tokenizer_config.json holds is
// the one the job, `eval` and `generate --chat` render with; without one the fallback is announced once; tool-call
// fields are refused by file, line and field before a model loads.
import { mkdtempSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { testGpu } from '../helpers/gpu.ts';
import { cli, errorLines } from '../helpers/cli.ts';
import { InputError } from '../../src/util/errors.ts';
import { loadModel } from '../../src/models/load-node.ts';
import { loadTokenizer } from '../../src/tokenizers/load-node.ts';
import { generate } from '../../src/models/generate.ts';
import { parseJsonl } from '../../src/sft/jsonl.ts';
import { chatPromptIds } from '../../src/sft/dataset.ts';
import { chatTemplateFor, FALLBACK_NOTE, renderChat } from '../../src/sft/chat-template.ts';
import { buildJob, type JobSettings } from '../../src/sft/job.ts';
import type { LmBatch } from '../../src/sft/batching.ts';

const STORIES = 'assets/stories260K-hf';
const gpuPromise = testGpu();
// A template of our own, so a test can tell it from the fallback: `[role] content|` with EOS after the assistant.
const TEMPLATE =
  "{{ bos_token }}{% for m in messages %}[{{ m['role'] }}] {{ m['content'] }}{% if m['role'] == 'assistant' %}" +
  '{{ eos_token }}{% endif %}|{% endfor %}{% if add_generation_prompt %}[assistant] {% endif %}';

/** stories260K's files linked beside a tokenizer_config.json holding `config`. */
function storiesWith(config: Record<string, unknown>): string {
  const out = mkdtempSync(join(tmpdir(), 'chat-wiring-'));
  for (const name of ['config.json', 'model.safetensors', 'tokenizer.model', 'generation_config.json'])
    symlinkSync(resolve(STORIES, name), join(out, name));
  writeFileSync(join(out, 'tokenizer_config.json'), JSON.stringify({ legacy: false, ...config }));
  return out;
}

function jsonl(lines: unknown[]): string {
  const file = join(mkdtempSync(join(tmpdir(), 'chat-rows-')), 'rows.jsonl');
  writeFileSync(file, lines.map((l) => JSON.stringify(l)).join('\n') + '\n');
  return file;
}

const chatRow = (n: number) => ({
  messages: [
    { role: 'user', content: `Tell me story ${n}.` },
    { role: 'assistant', content: 'Once upon a time there was a cat.' },
  ],
});

describe('tool calls are refused by file, line and field', () => {
  const ok = JSON.stringify(chatRow(0));
  const cases: [unknown, RegExp][] = [
    [{ ...chatRow(1), tools: [] }, /^f\.jsonl:2: field "tools": tool calls are not supported/],
    [{ messages: [{ role: 'assistant', content: '', tool_calls: [] }] }, /^f\.jsonl:2: messages\[0\]: field "tool_calls": tool calls/],
    [{ messages: [{ role: 'tool', content: '4' }] }, /^f\.jsonl:2: messages\[0\]: field "role" is "tool": tool calls/],
  ];
  it.each(cases)('%j', (row, message) => {
    const run = () => parseJsonl(`${ok}\n${JSON.stringify(row)}\n`, 'f.jsonl');
    expect(run).toThrow(InputError);
    expect(run).toThrow(message);
  });

  it('the CLI exits 2 with that one line before loading the model', async () => {
    const file = jsonl([chatRow(0), { messages: [{ role: 'tool', content: 'x' }] }]);
    const r = await cli('train', '--model', STORIES, '--train', file, '--out', join(tmpdir(), 'unused-out'));
    expect(r.code).toBe(2);
    expect(errorLines(r)).toEqual([
      `${file}:2: messages[0]: field "role" is "tool": tool calls are not supported (yet), expected system, user and assistant turns of plain content`,
    ]);
  });
});

describe('the model template reaches the job and generation', () => {
  const settings: JobSettings = {
    strategy: 'full', freezeLayers: 0, batchSize: 2, maxLength: 64, packing: false, shuffle: false, seed: 1,
    dropout: null, sampleTokens: 3,
  };

  it('a tokenizer_config.json chat_template is loaded and used; without one the fallback is announced once', async () => {
    const gpu = await gpuPromise;
    const rows = parseJsonl([0, 1, 2].map((n) => JSON.stringify(chatRow(n))).join('\n'), 'chat.jsonl').rows;
    for (const folder of [STORIES, storiesWith({ chat_template: TEMPLATE })]) {
      const model = await loadModel(gpu, folder);
      const tokenizer = await loadTokenizer(folder);
      const lines: string[] = [];
      const job = await buildJob(model, tokenizer, { train: rows, val: rows.slice(0, 1) }, settings, {
        name: (s) => s, data: 'chat.jsonl', info: (m) => lines.push(m),
      });
      const own = folder !== STORIES;
      expect(tokenizer.chatTemplate).toBe(own ? TEMPLATE : undefined);
      expect(job.chat?.fallback).toBe(!own);
      expect(lines.filter((l) => l === FALLBACK_NOTE).length).toBe(own ? 0 : 1);
      const prompt = own ? '<s>[user] Tell me story 0.|[assistant] ' : '<s>User:\nTell me story 0.\n\nAssistant:\n';
      expect(job.sampleInput).toBe(prompt);
      // the targets: the assistant content and EOS (either template), nothing of the scaffolding around them
      const batch = job.val[0] as LmBatch;
      const targets = Array.from(batch.targets.filter((t) => t >= 0));
      expect(targets.at(-1)).toBe(tokenizer.eosId);
      expect(tokenizer.decode(targets.slice(0, -1))).toBe('Once upon a time there was a cat.');
      job.dispose();
      model.dispose();
    }
  });

  it('generate --chat: the prompt as a user turn through the template, the fallback announced on stderr', async () => {
    const folder = storiesWith({ chat_template: TEMPLATE });
    for (const [dir, note] of [[STORIES, true], [folder, false]] as const) {
      const r = await cli('generate', '--model', dir, '--chat', '--prompt', 'Hi', '--max-new-tokens', '8');
      expect(r.code, r.stderr).toBe(0);
      expect(r.stderr.includes(FALLBACK_NOTE)).toBe(note);
      const tokenizer = await loadTokenizer(dir);
      const chat = chatTemplateFor(tokenizer);
      const text = renderChat(chat, [{ role: 'user', content: 'Hi' }], { addGenerationPrompt: true });
      expect(text).toBe(note ? '<s>User:\nHi\n\nAssistant:\n' : '<s>[user] Hi|[assistant] ');
      const ids = chatPromptIds(tokenizer, chat, [{ role: 'user', content: 'Hi' }]);
      expect(ids[0]).toBe(tokenizer.bosId);
      expect(ids.filter((id) => id === tokenizer.bosId).length).toBe(1); // the template's BOS, not a second
      const model = await loadModel(await gpuPromise, dir);
      const out = await generate(model.eval(), ids, { maxNewTokens: 8, temperature: 0, eosId: tokenizer.eosId });
      model.dispose();
      expect(r.stdout).toBe(tokenizer.decode(out.filter((id) => id !== tokenizer.eosId)) + '\n');
    }
  });
});
