// SftArgs for tests that call runSft directly: the CLI's defaults (src/cli/main.ts) with a fresh output folder, so a
// test states only what it changes.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { SftArgs } from '../../src/sft/run-node.ts';

export function sftArgs(over: Partial<SftArgs> & Pick<SftArgs, 'train'>): SftArgs {
  return {
    model: 'assets/gpt2-shakespeare', valRatio: 0.1, testRatio: 0.1, out: mkdtempSync(join(tmpdir(), 'sft-out-')),
    strategy: 'full', freezeLayers: 0, epochs: 1, maxSteps: 0, batchSize: 8, gradAccum: 1, lr: 3e-4,
    lrSchedule: 'cosine', warmupSteps: 0, weightDecay: 0.01, beta1: 0.9, beta2: 0.999, eps: 1e-8, clipGradNorm: 1,
    dropout: null, maxLength: 1024, packing: false, seed: 0, shuffle: true, evalEvery: 0, patience: 0, resume: false,
    sampleTokens: 0, ...over,
  };
}
