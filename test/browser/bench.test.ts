// The bench page (npm run bench:browser) at --quick sizes in headless Chromium: the same suite as under Node, on
// navigator.gpu with TF.js's WebGPU backend on the same device. The TF.js GPT-2 step is left out (10-20 s a step on
// SwiftShader; test/bench/suite.test.ts checks that model's loss). No assertion on speed.
import { expect, it } from 'vitest';
import { runBenchPage } from '../../bench/browser.ts';
import { findChromium } from '../helpers/browser.ts';
import { expectQuickReport } from '../helpers/bench.ts';

const chromium = findChromium();
if (!chromium.path && process.env.CI)
  throw new Error(`test/browser/bench.test.ts: CI=${process.env.CI} but ${chromium.reason}`);
if (!chromium.path) console.warn(`test/browser/bench.test.ts: skipped, ${chromium.reason}`);

it.skipIf(!chromium.path)(
  'runs the quick suite in the page: every row, checked, with ratios to TF.js',
  async () => {
    const lines: string[] = [];
    const report = await runBenchPage(
      ['--quick', '--filter=!sft-step tf.js'],
      (line) => lines.push(line),
      150_000,
    );
    expect(report.platform).toMatch(/Chrome\//);
    expect(lines.some((line) => line.startsWith('kernel'))).toBe(true);
    expectQuickReport(report);
  },
  180_000,
);
