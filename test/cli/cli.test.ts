// The CLI as a user runs it (bin/webgpu-sft.js in a child process): bad flags, paths and rows exit 2 with one line
// naming what is wrong; generate reproduces the reference greedy ids from BOS and puts BOS before a Llama prompt;
// eval prints JSON metrics; train --json prints one JSON event per line and writes the checkpoint.
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { testGpu } from '../helpers/gpu.ts';
import { readSafetensorsPath } from '../../src/io/safetensors-node.ts';
import { loadModel } from '../../src/models/load-node.ts';
import { generate } from '../../src/models/generate.ts';
import { loadTokenizer } from '../../src/tokenizers/load-node.ts';
import { modelInput } from '../../src/tokenizers/tokenizer.ts';

const LLAMA = 'assets/stories260K-hf';
const GPT2 = 'assets/gpt2-shakespeare';
const gpuPromise = testGpu();

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

function cli(...args: string[]): Promise<Run> {
  return new Promise((resolve) => {
    execFile('node', ['bin/webgpu-sft.js', ...args], { maxBuffer: 1 << 24 }, (error, stdout, stderr) => {
      const code = error ? (typeof error.code === 'number' ? error.code : 1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

/** The lines a user sees on stderr, less npm's and the adapter notice. */
const errorLines = (r: Run) =>
  r.stderr
    .split('\n')
    .filter((l) => l.trim() && !l.startsWith('npm warn') && !l.includes('software adapter'));

function file(name: string, text: string): string {
  const path = join(mkdtempSync(join(tmpdir(), 'cli-')), name);
  writeFileSync(path, text);
  return path;
}

function firstLines(path: string, count: number): string {
  const lines = readFileSync(path, 'utf8')
    .split('\n')
    .filter((l) => l.trim());
  return file('data.jsonl', lines.slice(0, count).join('\n') + '\n');
}

describe('webgpu-sft CLI', () => {
  it('bad commands, flags, paths and rows: exit 2 and one line naming what is wrong', async () => {
    const cases: [string[], RegExp][] = [
      [['frobnicate'], /command, expected one of train\|eval\|generate\|merge\|selftest\|bench, got 'frobnicate'/],
      [['train', '--epochs', 'two'], /--epochs/],
      [['train', '--no-such-flag'], /no-such-flag/],
      [['train', '--train', '/nonexistent/train.jsonl'], /\/nonexistent\/train\.jsonl/],
      [
        [
          'eval',
          '--model',
          GPT2,
          '--data',
          file('bad.jsonl', '{"prompt": "a", "completion": "b"}\n{"oops": 1}\n'),
        ],
        /bad\.jsonl:2/,
      ],
    ];
    for (const [args, message] of cases) {
      const r = await cli(...args);
      expect(r.code, `${args.join(' ')}: ${r.stderr}`).toBe(2);
      const lines = errorLines(r);
      expect(lines.length, `${args.join(' ')}: ${lines.join(' | ')}`).toBeGreaterThanOrEqual(1);
      expect(lines[0], args.join(' ')).toMatch(message);
    }
  });

  it('generate: greedy from BOS prints the reference continuation; a Llama prompt gets BOS first', async () => {
    const fixture = await readSafetensorsPath('test/fixtures/llama-logits.safetensors');
    const greedy = Array.from(await fixture.getInt32('greedy_ids')); // the 40 ids after BOS
    const tokenizer = await loadTokenizer(LLAMA);
    const fromBos = await cli('generate', '--model', LLAMA, '--max-new-tokens', '40', '--temperature', '0');
    expect(fromBos.code, fromBos.stderr).toBe(0);
    expect(greedy.length).toBe(40);
    expect(fromBos.stdout).toBe(tokenizer.decode(greedy) + '\n');

    const text = 'Once upon a time, a cat';
    const prompted = await cli('generate', '--model', LLAMA, '--prompt', text, '--max-new-tokens', '12');
    expect(prompted.code, prompted.stderr).toBe(0);
    const gpu = await gpuPromise;
    const model = await loadModel(gpu, LLAMA);
    const input = modelInput(tokenizer, tokenizer.encode(text));
    expect(input[0]).toBe(tokenizer.bosId);
    const ids = await generate(model.eval(), input, {
      maxNewTokens: 12,
      temperature: 0,
      eosId: tokenizer.eosId,
    });
    model.dispose();
    const continuation = ids.filter((id) => id !== tokenizer.eosId); // generate returns the new ids
    expect(prompted.stdout).toBe(tokenizer.decode(continuation) + '\n');
  });

  it('eval prints one JSON object of metrics', async () => {
    const data = firstLines('assets/sft/dialogue/val.jsonl', 6);
    const r = await cli('eval', '--model', GPT2, '--data', data);
    expect(r.code, r.stderr).toBe(0);
    const metrics = JSON.parse(r.stdout.trim()) as Record<string, number>;
    expect(metrics.examples).toBe(6);
    expect(metrics.count).toBeGreaterThan(0);
    expect(metrics.loss).toBeGreaterThan(0);
    expect(metrics.perplexity).toBeCloseTo(Math.exp(metrics.loss), 6);
  });

  it('train --json: one JSON event per line, ending in done, and a checkpoint folder', async () => {
    const out = mkdtempSync(join(tmpdir(), 'cli-train-'));
    const r = await cli(
      'train',
      '--model',
      GPT2,
      '--train',
      firstLines('assets/sft/dialogue/train.jsonl', 8),
      '--val',
      firstLines('assets/sft/dialogue/val.jsonl', 4),
      '--max-steps',
      '2',
      '--batch-size',
      '4',
      '--max-length',
      '48',
      '--out',
      out,
      '--json',
    );
    expect(r.code, r.stderr).toBe(0);
    const events = r.stdout
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as { type: string });
    expect(events.filter((e) => e.type === 'step').length).toBe(2);
    expect(events.some((e) => e.type === 'done')).toBe(true);
    for (const f of ['model.safetensors', 'config.json', 'training_args.json', 'trainer_state.json']) {
      expect(existsSync(join(out, f)), f).toBe(true);
    }
  });
});
