import { describe, expect, it } from 'vitest';
import { layernormChecks } from '../../src/check/layernorm.ts';
import { layernormBackward, layernormForward } from '../../src/kernels/layernorm.ts';
import { runChecks, testGpu } from '../helpers/gpu.ts';

const gpuPromise = testGpu();

describe('layernorm kernels vs reference', () => {
  runChecks(layernormChecks);
});

describe('layernorm kernels', () => {
  it('gives exactly the bias and a zero dx when C = 1', async () => {
    const gpu = await gpuPromise;
    const N = 3;
    const x = gpu.upload('x', Float32Array.from([4, -1e6, 0.25])); // (N, 1)
    const weight = gpu.upload('weight', Float32Array.from([3])); // (1)
    const bias = gpu.upload('bias', Float32Array.from([-0.75])); // (1)
    const [out, mean, rstd] = [gpu.alloc('out', N * 4), gpu.alloc('mean', N * 4), gpu.alloc('rstd', N * 4)];
    layernormForward(gpu, out, mean, rstd, x, weight, bias, { N, C: 1, eps: 1e-5 });
    expect([...(await gpu.read(out, 'f32'))]).toEqual([-0.75, -0.75, -0.75]);
    expect([...(await gpu.read(mean, 'f32'))]).toEqual([4, -1e6, 0.25]);
    const dx = gpu.alloc('dx', N * 4);
    const dout = gpu.upload('dout', Float32Array.from([1, 2, 3]));
    layernormBackward(gpu, dx, null, null, dout, x, weight, mean, rstd, { N, C: 1, eps: 1e-5 });
    expect([...(await gpu.read(dx, 'f32'))].map(Math.abs)).toEqual([0, 0, 0]);
  });

  it('reduces dweight and dbias in a fixed order: bit-identical across runs', async () => {
    const gpu = await gpuPromise;
    const [N, C] = [300, 37];
    const data = (n: number, k: number) => new Float32Array(n).map((_, i) => Math.sin(i * k));
    const [x, weight, bias, dout] = [data(N * C, 0.7), data(C, 1.3), data(C, 2.1), data(N * C, 0.37)];
    const [xBuf, wBuf, bBuf, doutBuf] = [x, weight, bias, dout].map((a, i) => gpu.upload(`in${i}`, a));
    const [out, mean, rstd] = [
      gpu.alloc('out', N * C * 4),
      gpu.alloc('mean', N * 4),
      gpu.alloc('rstd', N * 4),
    ];
    layernormForward(gpu, out, mean, rstd, xBuf, wBuf, bBuf, { N, C, eps: 1e-5 });
    const runs: Uint32Array[] = [];
    for (let r = 0; r < 2; r++) {
      const [dx, dweight, dbias] = [
        gpu.alloc('dx', N * C * 4),
        gpu.alloc('dw', C * 4),
        gpu.alloc('db', C * 4),
      ];
      layernormBackward(gpu, dx, dweight, dbias, doutBuf, xBuf, wBuf, mean, rstd, { N, C, eps: 1e-5 });
      runs.push(Uint32Array.from([...(await gpu.read(dweight, 'u32')), ...(await gpu.read(dbias, 'u32'))]));
    }
    expect(runs[1]).toEqual(runs[0]);
  });

  it('bad dims and buffers throw ShapeError at the call', async () => {
    const gpu = await gpuPromise;
    const big = gpu.alloc('big', 12 * 4);
    const [v, m, r, w, b] = ['v', 'm', 'r', 'w', 'b'].map((name) => gpu.alloc(name, 4 * 4));
    const dims = { N: 3, C: 4, eps: 1e-5 };
    expect(() => layernormForward(gpu, big, m, r, v, w, b, dims)).toThrow(
      "layernorm-forward-short: binding 'x' (v) size, expected 48 bytes or more, got 16",
    );
    expect(() => layernormForward(gpu, big, m, r, big, w, b, dims)).toThrow(
      /binding 'out' \(written\), expected a buffer distinct from 'x'/,
    );
    expect(() => layernormForward(gpu, v, m, r, v, w, b, { N: 1, C: 0, eps: 1e-5 })).toThrow(
      /dims, expected/,
    );
    expect(() => layernormForward(gpu, v, m, r, w, v, b, { N: 1, C: 4, eps: -1 })).toThrow(/dims.eps/);
    expect(() => layernormBackward(gpu, big, w, w, big, big, v, m, r, dims)).toThrow(/distinct/);
  });
});
