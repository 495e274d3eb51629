// What every bench report must hold, in Node and in the page: the rows each case family produces, finite positive
// rates and times, checked results, and the ratio to TF.js and to jax-js wherever their rows share the kernel and size.
import { expect } from 'vitest';
import type { BenchReport } from '../../bench/suite.ts';

/** The rows of a --quick report whose TF.js GPT-2 step was filtered out (it takes 10-20 s a step on SwiftShader). */
export function expectQuickReport(report: BenchReport): void {
  const rows = report.rows;
  const has = (kernel: string, impl: string, size?: string) =>
    rows.some((r) => r.kernel === kernel && r.impl === impl && (size === undefined || r.size === size));
  const missing: string[] = [];
  for (const size of ['64³', '128³']) {
    for (const impl of ['naive', 'register', 'workgroup', 'tf.matMul', 'jax matmul'])
      if (!has('matmul', impl, size)) missing.push(`matmul ${impl} ${size}`);
  }
  for (const [kernel, impl] of [
    ['gelu', 'forward'],
    ['softmax', 'forward'],
    ['softmax', 'tf.softmax'],
    ['mlp-step', 'ours'],
    ['mlp-step', 'tf.js'],
    ['mlp-step', 'jax-js'],
    ['sft-step', 'ours'],
  ]) {
    if (!has(kernel, impl)) missing.push(`${kernel} ${impl}`);
  }
  expect(
    missing,
    `rows missing from the report (${rows.map((r) => `${r.kernel} ${r.impl} ${r.size}`).join(', ')})`,
  ).toEqual([]);
  expect(has('sft-step', 'tf.js'), 'the TF.js GPT-2 step, expected filtered out').toBe(false);

  const wrong = rows.filter((r) => r.error).map((r) => `${r.kernel} ${r.impl} ${r.size}: ${r.error}`);
  expect(wrong).toEqual([]);
  for (const r of rows) {
    const where = `${r.kernel} ${r.impl} ${r.size}`;
    for (const [name, value] of Object.entries({
      ms: r.ms,
      wallMs: r.wallMs,
      rate: r.rate,
      wallRate: r.wallRate,
    })) {
      expect(
        Number.isFinite(value) && value > 0,
        `${where}: ${name}, expected finite and > 0, got ${value}`,
      ).toBe(true);
    }
    expect(r.runsMs).toHaveLength(report.runs);
    if (r.timing === 'timestamps') expect(r.gpuMs, `${where}: gpuMs`).toBe(r.ms);
    if (r.peakMiB !== null) expect(r.peakMiB, `${where}: peak MiB`).toBeGreaterThan(0);
    const paired = rows.some((t) => t.engine === 'tfjs' && t.kernel === r.kernel && t.size === r.size);
    if (r.engine === 'ours' && paired) {
      expect(Number.isFinite(r.vsTfjs) && r.vsTfjs! > 0, `${where}: vsTfjs, got ${r.vsTfjs}`).toBe(true);
    }
    const withJax = rows.some((t) => t.engine === 'jax' && t.kernel === r.kernel && t.size === r.size);
    if (r.engine === 'ours' && withJax) {
      expect(Number.isFinite(r.vsJax) && r.vsJax! > 0, `${where}: vsJax, got ${r.vsJax}`).toBe(true);
    }
  }
  // The step rows checked each engine's losses against the other's, step by step (see bench/cases/step-runners.ts).
  for (const engine of ['tfjs', 'jax'])
    expect(rows.find((r) => r.kernel === 'mlp-step' && r.engine === engine)?.note).toMatch(
      /max relative difference from ours/,
    );
}
