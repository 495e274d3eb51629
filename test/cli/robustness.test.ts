// What a user's mistakes and interruptions do to the CLI (issue #11): flags refused at parse time in their own names
// before the device opens; --out checked first (a file, a non-empty folder, a path that cannot be written); file-system
// failures as one line with exit 2; a huge learning rate stops with the tensor named and no checkpoint; Ctrl-C
// finishes the step, checkpoints and exits 130, twice exits at once; generate says when it stops at the context.
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { cli, cliLive, errorLines, modelWithConfig, tempFile, textRows, waitFor, type Run } from '../helpers/cli.ts';
import { verifyCheckpoint } from '../../src/sft/checkpoint-folder-node.ts';

const LLAMA = 'assets/stories260K-hf';
const ROWS = textRows(16);
const SMALL = ['--model', LLAMA, '--train', ROWS, '--batch-size', '2', '--max-length', '24', '--sample-tokens', '0'];
const newOut = () => join(mkdtempSync(join(tmpdir(), 'cli-out-')), 'run');

/** Exit 2, one line on stderr matching `message`, and the device never opened (no adapter notice). */
function expectUsageError(r: Run, message: RegExp, what: string): void {
  expect(r.code, `${what}: ${r.stderr}`).toBe(2);
  expect(errorLines(r).length, `${what}: ${r.stderr}`).toBeLessThanOrEqual(2); // the line, and at most a hint
  expect(errorLines(r)[0], what).toMatch(message);
}

describe('CLI flags are checked at parse time', () => {
  it('out-of-range values name the flag and what it accepts, before the device opens', async () => {
    const cases: [string[], RegExp][] = [
      [['train', '--grad-accum', '0'], /^train: --grad-accum, expected an integer ≥ 1, got '0'$/],
      [['train', '--grad-accum', '-1'], /--grad-accum, expected an integer ≥ 1/],
      [['train', '--epochs', '-1'], /--epochs, expected an integer ≥ 1/],
      [['train', '--lr', '0'], /--lr, expected a number > 0/],
      [['train', '--beta2', '1'], /--beta2, expected a number in \[0, 1\)/],
      [['train', '--val-ratio', '0.6', '--test-ratio', '0.5'], /--val-ratio \+ --test-ratio, expected a sum below 1/],
      [['train', '--batch-size', '1e400'], /--batch-size, expected an integer ≥ 1/],
      [['generate', '--max-new-tokens', '-3'], /^generate: --max-new-tokens, expected an integer ≥ 1, got '-3'$/],
      [['generate', '--temperature', '-1'], /--temperature, expected a number ≥ 0/],
      [['generate', '--top-p', '0'], /--top-p, expected a number in \(0, 1\]/],
      [['eval', '--batch-size', '0', '--data', ROWS], /--batch-size, expected an integer ≥ 1/],
    ];
    for (const [args, message] of cases) {
      const r = await cli(...args);
      expectUsageError(r, message, args.join(' '));
      expect(r.stderr, args.join(' ')).not.toContain('software adapter');
    }
  });

  it('--out: a file, a non-empty folder, an unwritable path; --overwrite only replaces a checkpoint', async () => {
    const file = tempFile('not-a-folder', 'x');
    expectUsageError(await cli('train', ...SMALL, '--out', file), /--out: .*not-a-folder, expected a folder, got a file/, 'file');
    const full = mkdtempSync(join(tmpdir(), 'full-'));
    writeFileSync(join(full, 'notes.txt'), 'mine');
    const nonEmpty = await cli('train', ...SMALL, '--out', full);
    expectUsageError(nonEmpty, /--out: .*, expected an empty or new folder, got one holding 1 file/, 'non-empty');
    expect(nonEmpty.stderr).toMatch(/--resume.*--overwrite/);
    const overwrite = await cli('train', ...SMALL, '--out', full, '--overwrite');
    expectUsageError(overwrite, /expected an earlier checkpoint of this engine for --overwrite to replace, got a folder that is not one \(it holds 'notes.txt'\)/, 'overwrite');
    expect(readFileSync(join(full, 'notes.txt'), 'utf8')).toBe('mine');
    const under = await cli('train', ...SMALL, '--out', join(file, 'sub'));
    expectUsageError(under, /--out: .*, expected a folder this process can write in, got (ENOTDIR|EEXIST)/, 'under a file');
    for (const r of [nonEmpty, overwrite, under]) expect(r.stderr).not.toContain('software adapter');
  });

  it('a model path whose model.safetensors is a folder: one line, exit 2', async () => {
    const model = modelWithConfig(LLAMA, {});
    const weights = join(model, 'model.safetensors');
    writeFileSync(join(model, 'x'), '');
    await import('node:fs/promises').then((fs) => fs.rm(weights));
    mkdirSync(weights);
    const r = await cli('eval', '--model', model, '--data', ROWS);
    expect(r.code, r.stderr).toBe(2);
    expect(errorLines(r).length, r.stderr).toBeLessThanOrEqual(2);
    expect(errorLines(r)[0]).toMatch(/model\.safetensors/);
    expect(r.stderr).not.toMatch(/\n\s+at /); // no stack trace
  });
});

describe('CLI training survives what users do', () => {
  it('--lr 1e39: stops at step 1 naming the tensor, exit 1, and writes no checkpoint', async () => {
    const out = newOut();
    const r = await cli('train', ...SMALL, '--lr', '1e39', '--lr-schedule', 'constant', '--max-steps', '1', '--out', out);
    expect(r.code, r.stderr + r.stdout).toBe(1);
    expect(r.stdout).toMatch(/error: at step 1 the weights of model\.\S+ became non-finite/);
    expect(existsSync(join(out, 'model.safetensors'))).toBe(false);
  });

  it('Ctrl-C finishes the step, writes a checkpoint and exits 130; --resume goes on from it', async () => {
    const out = newOut();
    const run = cliLive('train', ...SMALL, '--epochs', '1000', '--max-steps', '400', '--out', out, '--json');
    await waitFor(() => run.stdout().includes('"type":"step"'), 'a first step');
    run.child.kill('SIGINT');
    const { code } = await run.exit;
    expect(code, run.stderr()).toBe(130);
    const m = /interrupted at step (\d+); checkpoint in (.+); continue with --resume/.exec(run.stderr());
    expect(m, run.stderr()).not.toBeNull();
    expect(m![2]).toBe(out);
    const manifest = await verifyCheckpoint(out, { hash: true });
    expect(manifest.step).toBe(Number(m![1]));
    const state = JSON.parse(readFileSync(join(out, 'trainer_state.json'), 'utf8')) as { step: number };
    expect(state.step).toBe(Number(m![1]));
    // Settings come from the checkpoint: only --max-steps changes.
    const resumed = await cli('train', '--resume', '--out', out, '--max-steps', String(state.step + 1), '--json');
    expect(resumed.code, resumed.stderr).toBe(0);
    const steps = resumed.stdout.split('\n').filter((l) => l.includes('"type":"step"'));
    expect(steps.map((l) => (JSON.parse(l) as { step: number }).step)).toEqual([state.step + 1]);
    const other = await cli('train', '--resume', '--out', out, '--model', 'assets/gpt2-shakespeare', '--max-steps', '99');
    expectUsageError(other, /--model, expected the checkpoint's model/, 'resume with another model');
  });

  it('a second Ctrl-C exits at once', async () => {
    // GPT-2 steps take long enough (~1 s here) that the second signal lands inside the step the first one let finish.
    const out = newOut();
    const gpt2 = ['--model', 'assets/gpt2-shakespeare', '--train', ROWS, '--batch-size', '8', '--max-length', '64'];
    const run = cliLive('train', ...gpt2, '--sample-tokens', '0', '--epochs', '1000', '--max-steps', '400', '--out', out, '--json');
    await waitFor(() => run.stdout().includes('"type":"step"'), 'a first step');
    run.child.kill('SIGINT');
    await waitFor(() => run.stderr().includes('again to quit at once'), 'the first signal taken');
    run.child.kill('SIGINT');
    const { code, signal } = await run.exit;
    expect(code, `killed by ${signal}: ${run.stderr()}`).toBe(130); // SIGSEGV once meant GPU work in flight at exit
    expect(run.stderr()).toMatch(/SIGINT: stopped at once; the last checkpoint written is intact/);
    expect(run.stderr()).not.toMatch(/interrupted at step/);
  });
});

describe('generate', () => {
  it('Ctrl-C stops it at once with exit 130 (the device destroyed first, not killed by the signal)', async () => {
    const run = cliLive('generate', '--model', LLAMA, '--max-new-tokens', '100000');
    // The software adapter's notice says the device is open (a hardware one prints none: then 8 s is ample).
    await waitFor(() => run.stderr().includes('software adapter'), 'the device', 8000).catch(() => undefined);
    await new Promise((r) => setTimeout(r, 1500)); // loading the model or generating
    run.child.kill('SIGINT');
    const { code, signal } = await run.exit;
    expect(code, `killed by ${signal}: ${run.stderr()}`).toBe(130);
    expect(run.stderr()).toMatch(/SIGINT: stopped\n/);
  });

  it('says that it stopped at the context length', async () => {
    const model = modelWithConfig(LLAMA, { max_position_embeddings: 12 });
    const r = await cli('generate', '--model', model, '--max-new-tokens', '100000');
    expect(r.code, r.stderr).toBe(0);
    expect(errorLines(r).join('\n')).toMatch(
      /generate: stopped at the model's context length of 12 tokens \(prompt 1 \+ 11 generated\), expected --max-new-tokens 100000/,
    );
  });
});
