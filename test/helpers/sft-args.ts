// SftArgs for tests that call runSft directly: the CLI's defaults (src/sft/defaults.ts) with a fresh output folder, so a
// test states only what it changes.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SFT_DEFAULTS } from '../../src/sft/defaults.ts';
import type { SftArgs } from '../../src/sft/run-node.ts';

export function sftArgs(over: Partial<SftArgs> & Pick<SftArgs, 'train'>): SftArgs {
  const { template: _template, ...defaults } = SFT_DEFAULTS;
  return {
    ...defaults, model: 'assets/gpt2-shakespeare', out: mkdtempSync(join(tmpdir(), 'sft-out-')), resume: false,
    sampleTokens: 0, ...over,
  };
}
