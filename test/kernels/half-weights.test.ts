import { describe, expect, it } from 'vitest';
import { halfWeightChecks } from '../../src/check/half-weights.ts';
import { matmulBackward } from '../../src/kernels/matmul.ts';
import { f32BitsToBf16, packHalves, unpackHalves } from '../../src/util/half.ts';
import { runChecks, testGpu } from '../helpers/gpu.ts';

const gpuPromise = testGpu();

describe('16-bit weight kernels vs reference', () => {
  runChecks(halfWeightChecks);
});

describe('16-bit weights', () => {
  it('bf16 rounds to nearest, ties to even, and widens exactly', () => {
    const bits = (x: number) => new Uint32Array(new Float32Array([x]).buffer)[0];
    expect(f32BitsToBf16(bits(1))).toBe(0x3f80);
    expect(f32BitsToBf16(0x3f808000)).toBe(0x3f80); // tie, even stays
    expect(f32BitsToBf16(0x3f818000)).toBe(0x3f82); // tie, odd rounds up
    expect(f32BitsToBf16(0x3f808001)).toBe(0x3f81);
    expect(f32BitsToBf16(0x7f7fffff)).toBe(0x7f80); // max f32 rounds to Inf
    const data = new Float32Array([1.5, -2.25, 3e-3, 65504, 7]);
    for (const dtype of ['f16', 'bf16'] as const) {
      const back = unpackHalves(packHalves(data, dtype), data.length, dtype);
      expect(unpackHalves(packHalves(back, dtype), data.length, dtype)).toEqual(back);
      expect(Math.abs(back[2] - 3e-3) / 3e-3).toBeLessThan(dtype === 'f16' ? 2 ** -11 : 2 ** -8);
    }
  });

  it('refuses a gradient for a 16-bit B (a frozen weight)', async () => {
    const gpu = await gpuPromise;
    const buf = (n: number) => gpu.alloc('x', n * 4);
    const dims = { batch: 1, M: 2, N: 3, K: 4, dtypeB: 'bf16' as const };
    expect(() => matmulBackward(gpu, null, buf(12), null, buf(6), buf(8), buf(6), dims)).toThrow(
      /matmulBackward: dB, expected an f32 B/,
    );
  });
});
