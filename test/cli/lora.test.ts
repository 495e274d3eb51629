// LoRA from the command line: merge writes a plain model folder that generates what base + --adapter generates, and
// an adapter this engine cannot apply is refused in one line naming the field.
import { cpSync, existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { cli, errorLines } from '../helpers/cli.ts';

const GPT2 = 'assets/gpt2-shakespeare';
const ADAPTER = 'test/fixtures/lora/peft-gpt2';

describe('webgpu-sft merge and --adapter', () => {
  it('merge gives a model that generates what the base with --adapter generates', async () => {
    const out = join(mkdtempSync(join(tmpdir(), 'merge-')), 'merged');
    const merged = await cli('merge', '--model', GPT2, '--adapter', ADAPTER, '--out', out);
    expect(merged.code, merged.stderr).toBe(0);
    expect(merged.stdout).toMatch(/merged 12 adapted weights/);
    for (const f of ['model.safetensors', 'config.json', 'vocab.json', 'merges.txt'])
      expect(existsSync(join(out, f)), f).toBe(true);
    const config = JSON.parse(readFileSync(join(out, 'config.json'), 'utf8')) as Record<string, unknown>;
    expect(
      [config.dtype, config.torch_dtype],
      'the merged weights are float32, and config.json says so',
    ).toEqual(['float32', undefined]);
    const prompt = ['--prompt', 'ROMEO:', '--max-new-tokens', '8'];
    const [fromMerged, fromAdapter, fromBase] = await Promise.all([
      cli('generate', '--model', out, ...prompt),
      cli('generate', '--model', GPT2, '--adapter', ADAPTER, ...prompt),
      cli('generate', '--model', GPT2, ...prompt),
    ]);
    expect(fromAdapter.code, fromAdapter.stderr).toBe(0);
    expect(fromMerged.stdout).toBe(fromAdapter.stdout);
    expect(fromAdapter.stdout, 'the adapter changes the continuation').not.toBe(fromBase.stdout);
  });

  it('an adapter it cannot apply: one line naming the field, exit 2', async () => {
    const folder = mkdtempSync(join(tmpdir(), 'dora-'));
    cpSync(ADAPTER, folder, { recursive: true });
    const config = JSON.parse(readFileSync(join(folder, 'adapter_config.json'), 'utf8')) as Record<
      string,
      unknown
    >;
    writeFileSync(join(folder, 'adapter_config.json'), JSON.stringify({ ...config, use_dora: true }));
    const r = await cli('generate', '--model', GPT2, '--adapter', folder);
    expect(r.code, r.stderr).toBe(2);
    expect(errorLines(r)).toEqual([
      expect.stringMatching(
        /adapter_config\.json: field 'use_dora', expected false \(DoRA is not supported\)/,
      ),
    ]);
  });
});
