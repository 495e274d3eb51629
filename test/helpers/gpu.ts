// One device per test file (vitest runs each file in its own process), and a runner that turns shared
// KernelChecks into vitest cases with a fresh seed printed on failure.
import { afterAll, expect, it } from 'vitest';
import { createDevice } from '../../src/gpu/device.ts';
import type { Gpu } from '../../src/gpu/gpu.ts';
import { describeResult, type KernelCheck } from '../../src/check/kernel-check.ts';
import { freshSeed, Rng } from '../../src/util/random.ts';

let shared: Promise<Gpu> | null = null;

export function testGpu(): Promise<Gpu> {
  if (!shared) {
    shared = createDevice({ log: null });
    afterAll(async () => {
      const gpu = await shared;
      gpu?.dispose();
      shared = null;
    });
  }
  return shared;
}

/** One vitest case per check; every output must pass its bound. */
export function runChecks(checks: KernelCheck[]): void {
  const gpuPromise = testGpu();
  for (const check of checks) {
    it(`${check.kernel} [${check.size}]`, async (ctx) => {
      const gpu = await gpuPromise;
      if (check.available && !check.available(gpu)) ctx.skip();
      const seed = freshSeed();
      const results = await check.run(gpu, new Rng(seed));
      expect(results.length).toBeGreaterThan(0);
      for (const r of results) {
        expect(r.pass, `seed ${seed}: ${describeResult(check, r)}`).toBe(true);
      }
    });
  }
}
