// The layer rule of eslint.config.js (scripts/eslint-layers.js): a wrong import fails lint, a right one passes.
import { ESLint } from 'eslint';
import { describe, expect, it } from 'vitest';

const eslint = new ESLint({ cwd: process.cwd(), overrideConfig: { linterOptions: { reportUnusedDisableDirectives: 'off' } } });

/** The layer rule's messages for `code` linted as if it were the file at `filePath`. */
async function layerErrors(code: string, filePath: string): Promise<string[]> {
  const [result] = await eslint.lintText(code, { filePath });
  return result.messages.filter((m) => m.ruleId === 'webgpu-sft/layers' || m.fatal).map((m) => m.message);
}

describe('webgpu-sft/layers', () => {
  it.each([
    ['src/gpu/gpu.ts', "import { matmulForward } from '../kernels/matmul.ts';", /expected gpu to import only util/],
    ['src/io/safetensors.ts', "import { Gpu } from '../gpu/gpu.ts';", /expected io to import only util/],
    ['src/reference/matmul.ts', "import type { Kernel } from '../kernels/matmul.ts';", /expected reference to import only util, ops/],
    ['src/models/gpt2/model.ts', "import { runSft } from '../../sft/run-node.ts';", /expected models to import only/],
    ['src/sft/dataset.ts', "import { Rng } from '../check/kernel-check.ts';", /src\/check\/kernel-check.ts, expected sft/],
    ['src/util/random.ts', "export { ShapeError } from '../gpu/device.ts';", /expected util to import nothing else in src/],
    ['src/cli/main.ts', "const m = await import('../../bench/node.ts');", /expected nothing shipped to import bench/],
    ['src/sft/trainer.ts', "import { expectClose } from '../../test/helpers/gpu.ts';", /expected nothing shipped to import/],
    ['src/sft/dataset.ts', "import { readFile } from 'node:fs/promises';", /expected Node modules only in files named \*-node.ts/],
    ['src/gpu/device.ts', "import { existsSync } from 'fs';", /expected Node modules only/],
    ['web/main.ts', "import { runSft } from '../src/sft/run-node.ts';", /expected the page to import no \*-node.ts file/],
  ])('%s: %s fails', async (filePath, code, message) => {
    const errors = await layerErrors(code, filePath);
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatch(message);
  });

  it.each([
    ['src/kernels/matmul.ts', "import type { Gpu } from '../gpu/gpu.ts';\nimport type { MatmulDims } from '../ops/dims.ts';"],
    ['src/reference/matmul.ts', "import type { MatmulDims } from '../ops/dims.ts';"],
    ['src/sft/trainer.ts', "import { Rng } from '../util/random.ts';\nimport type { Module } from '../nn/module.ts';"],
    ['src/sft/checkpoint-node.ts', "import { readFile } from 'node:fs/promises';"],
    ['src/cli/args.ts', "import { parseArgs } from 'node:util';\nimport { runSelftest } from '../check/selftest.ts';"],
    ['src/tokenizers/gpt2-bpe.ts', "import { quote } from '../io/quote.ts';"],
    ['src/index.ts', "export { runSelftest } from './check/selftest.ts';"],
  ])('%s: %s passes', async (filePath, code) => {
    expect(await layerErrors(code, filePath)).toEqual([]);
  });
});
