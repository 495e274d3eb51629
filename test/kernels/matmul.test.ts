// The matmul kernels (every variant) against the float64 reference, and the dims validation at entry.
import { describe, expect, it } from 'vitest';
import { matmulChecks } from '../../src/check/matmul.ts';
import { ShapeError } from '../../src/util/errors.ts';
import { defaultMatmulVariant, matmulBackward, matmulForward } from '../../src/kernels/matmul.ts';
import { runChecks, testGpu } from '../helpers/gpu.ts';
import type { MatmulDims } from '../../src/ops/dims.ts';

runChecks(matmulChecks);

describe('matmul validation', () => {
  const gpuPromise = testGpu();

  it('picks register blocking on a software adapter (subgroup-shared where 4-lane subgroups exist), workgroup tiles on hardware', async () => {
    const gpu = await gpuPromise;
    const software = gpu.subgroupSize === 4 ? 'subgroup' : 'register';
    expect(defaultMatmulVariant(gpu)).toBe(gpu.software ? software : 'workgroup');
  });

  it('rejects bad dims, short buffers and aliased outputs', async () => {
    const gpu = await gpuPromise;
    using _scope = gpu.scope('matmul validation');
    const [out, a, b] = [gpu.alloc('out', 4 * 6), gpu.alloc('a', 4 * 6), gpu.alloc('b', 4 * 9)];
    const ok: MatmulDims = { batch: 1, M: 2, N: 3, K: 3 };
    const forward =
      (dims: Partial<MatmulDims>, bufs = { out, a, b }, variant?: string) =>
      () =>
        matmulForward(gpu, bufs.out, bufs.a, bufs.b, null, { ...ok, ...dims }, variant as never);
    expect(forward({})).not.toThrow();
    expect(forward({ K: 0 })).toThrow(/matmulForward: dims.K, expected an integer ≥ 1, got 0/);
    expect(forward({ M: 1.5 })).toThrow(ShapeError);
    expect(forward({ batch: 2, batchStrideA: 0, batchStrideB: 0 })).toThrow(
      "matmul-naive: binding 'out' (out) size, expected 48 bytes or more, got 24",
    );
    expect(forward({ batch: 2, batchStrideB: 0, batchStrideA: 4 })).toThrow(
      /dims.batchStrideA, expected 0 or an integer ≥ 6/,
    );
    expect(forward({ K: 4 })).toThrow("matmul-naive: binding 'A' (a) size, expected 32 bytes or more, got 24");
    expect(forward({}, { out, a: out, b })).toThrow(
      /binding 'out' \(written\), expected a buffer distinct from 'A'/,
    );
    expect(forward({}, { out, a, b }, 'tiled')).toThrow(
      /variant, expected one of naive, register, subgroup, workgroup, got tiled/,
    );
    const dB = gpu.alloc('dB', 4 * 8);
    expect(() => matmulBackward(gpu, null, dB, null, out, a, b, ok)).toThrow(
      "matmul-naive: binding 'out' (dB) size, expected 36 bytes or more, got 32",
    );
    expect(() => matmulBackward(gpu, a, null, null, out, a, b, ok)).toThrow(
      /dA, expected a buffer distinct from a/,
    );
    await gpu.sync();
  });
});
