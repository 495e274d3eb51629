import { describe, expect, it } from 'vitest';
import { ropeChecks } from '../../src/check/rope.ts';
import { ShapeError } from '../../src/util/errors.ts';
import { frequencyTable, ropeBackward, ropeForward } from '../../src/kernels/rope.ts';
import { ropeInverseFrequencies } from '../../src/ops/rope-frequencies.ts';
import { runChecks, testGpu } from '../helpers/gpu.ts';

// At file level, so the device outlives every describe block.
const gpuPromise = testGpu();

describe('rope kernels vs reference', () => {
  runChecks(ropeChecks);
});

describe('rope kernels', () => {
  it('gives cos/sin within 2e-7 of float64 at positions up to 8191 (exact angles mod a turn)', async () => {
    const gpu = await gpuPromise;
    using _scope = gpu.scope('rope accuracy');
    const [T, HS, theta] = [8192, 8, 10_000];
    const half = HS / 2;
    const x = new Float32Array(T * HS); // rows (1, 1, ..., 1, 0, ..., 0): out = (cos, sin) of every angle
    for (let t = 0; t < T; t++) x.fill(1, t * HS, t * HS + half);
    const out = gpu.alloc('out', T * HS * 4);
    ropeForward(gpu, out, gpu.upload('x', x), { B: 1, NH: 1, T, HS, theta, positionOffset: 0 });
    const y = await gpu.read(out, 'f32');
    let worst = 0;
    for (let t = 0; t < T; t++) {
      for (let i = 0; i < half; i++) {
        const angle = t * theta ** ((-2 * i) / HS);
        worst = Math.max(worst, Math.abs(y[t * HS + i] - Math.cos(angle)));
        worst = Math.max(worst, Math.abs(y[t * HS + half + i] - Math.sin(angle)));
      }
    }
    expect(worst).toBeLessThan(2e-7);
  });

  it('backward undoes forward', async () => {
    const gpu = await gpuPromise;
    using _scope = gpu.scope('rope inverse');
    const dims = { B: 2, NH: 3, T: 11, HS: 8, theta: 10_000, positionOffset: 100 };
    const n = 2 * 3 * 11 * 8;
    const x = new Float32Array(n).map((_, i) => Math.sin(i * 0.37));
    const [out, back] = [gpu.alloc('out', n * 4), gpu.alloc('back', n * 4)];
    ropeForward(gpu, out, gpu.upload('x', x), dims);
    ropeBackward(gpu, back, out, dims);
    const got = await gpu.read(back, 'f32');
    got.forEach((v, i) => expect(Math.abs(v - x[i]), `back[${i}]`).toBeLessThan(1e-6));
  });

  it('stores each frequency as turns per position in 0.64 fixed point', () => {
    const table = frequencyTable(ropeInverseFrequencies(4, 10_000)); // inv_freq = 1, 0.01
    const turns = (i: number) => (table[2 * i] + table[2 * i + 1] / 2 ** 32) / 2 ** 32;
    expect(turns(0) * 2 * Math.PI).toBeCloseTo(1, 15);
    expect(turns(1) * 2 * Math.PI).toBeCloseTo(0.01, 15);
  });

  it('rejects bad dims, short buffers and aliasing', async () => {
    const gpu = await gpuPromise;
    using _scope = gpu.scope('rope errors');
    const [a, b] = [gpu.alloc('a', 24 * 4), gpu.alloc('b', 24 * 4)];
    const ok = { B: 1, NH: 2, T: 3, HS: 4, theta: 10_000, positionOffset: 0 };
    expect(() => ropeForward(gpu, a, b, { ...ok, HS: 3 })).toThrow(/dims.HS, expected an even integer/);
    expect(() => ropeForward(gpu, a, b, { ...ok, T: -1 })).toThrow(ShapeError);
    expect(() => ropeForward(gpu, a, b, { ...ok, theta: 0 })).toThrow(/dims.theta/);
    expect(() => ropeBackward(gpu, a, b, { ...ok, positionOffset: 1.5 })).toThrow(/dims.positionOffset/);
    expect(() => ropeForward(gpu, a, b, { ...ok, HS: 6 })).toThrow(
      "rope-forward: binding 'out' (a) size, expected 144 bytes or more, got 96",
    );
    expect(() => ropeBackward(gpu, a, a, ok)).toThrow(
      /rope-backward: binding 'dx' \(written\), expected a buffer distinct from 'dout', got the same buffer/,
    );
  });
});
