// The CLI refusing a model folder before it allocates: a config asking for a million layers, and a tokenizer larger
// than the model's vocabulary, each end `eval` with exit code 2 and one line on stderr, quickly and in little memory.
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { GPT2, smallerVocabulary, withConfig } from '../helpers/model-folders.ts';

const DATA = 'assets/sft/dialogue/val.jsonl';

interface Run {
  code: number;
  lines: string[];
  ms: number;
  maxRss: number;
}

function evalCli(model: string): Promise<Run> {
  const rssFile = join(mkdtempSync(join(tmpdir(), 'rss-')), 'max-rss');
  const args = ['--import', 'tsx', '--import', './test/helpers/max-rss.mjs', 'src/cli/main.ts', 'eval', '--model', model, '--data', DATA];
  const start = performance.now();
  return new Promise((resolve) => {
    execFile('node', args, { env: { ...process.env, MAX_RSS_FILE: rssFile } }, (error, _stdout, stderr) => {
      const code = error ? (typeof error.code === 'number' ? error.code : 1) : 0;
      const lines = stderr.split('\n').filter((l) => l.trim() && !l.includes('software adapter'));
      resolve({ code, lines, ms: performance.now() - start, maxRss: Number(readFileSync(rssFile, 'utf8')) });
    });
  });
}

describe('webgpu-sft eval refuses a mismatched model folder before allocating', () => {
  it('n_layer 1000000: exit 2, one line naming the field, in seconds and under 1 GiB', async () => {
    const r = await evalCli(withConfig(GPT2, { n_layer: 1_000_000 }));
    expect(r.code, r.lines.join('\n')).toBe(2);
    expect(r.lines).toHaveLength(1);
    expect(r.lines[0]).toMatch(/config\.json: field 'n_layer', expected a positive integer ≤ 1024, got 1000000$/);
    expect(r.ms).toBeLessThan(30_000);
    // It used to grow to 23.7 GB until killed.
    expect(r.maxRss).toBeLessThan(1 << 30);
  });

  it('a tokenizer larger than the vocab_size config and weights agree on: exit 2 naming the tokenizer vocabulary', async () => {
    const r = await evalCli(await smallerVocabulary(50000));
    expect(r.code, r.lines.join('\n')).toBe(2);
    expect(r.lines[0]).toMatch(/: tokenizer vocabulary size, expected at most .*config\.json vocab_size 50000, got 50257$/);
  });
});
