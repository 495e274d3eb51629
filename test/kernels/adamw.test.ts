import { describe, expect, it } from 'vitest';
import { adamwChecks } from '../../src/check/adamw.ts';
import { adamwUpdate, NO_BAD_SLOT } from '../../src/kernels/adamw.ts';
import { runChecks, testGpu } from '../helpers/gpu.ts';
import type { AdamwDims } from '../../src/ops/dims.ts';

const gpuPromise = testGpu();

describe('adamw kernel vs reference', () => {
  runChecks(adamwChecks);
});

describe('adamw kernel', () => {
  it('a clip scale of 0 leaves m and v decaying and the parameter only weight-decayed', async () => {
    const gpu = await gpuPromise;
    const dims: AdamwDims = { n: 2, lr: 0.5, beta1: 0.5, beta2: 0.75, eps: 1e-8, weightDecay: 0.5, step: 2, slot: 0 };
    const param = gpu.upload('param', Float32Array.of(4, -8));
    const m = gpu.upload('m', Float32Array.of(0, 0));
    const v = gpu.upload('v', Float32Array.of(1, 1));
    adamwUpdate(
      gpu,
      param,
      m,
      v,
      gpu.upload('grad', Float32Array.of(3, 5)),
      gpu.upload('scale', Float32Array.of(0)),
      gpu.upload('status', Uint32Array.of(NO_BAD_SLOT)),
      dims,
    );
    expect([...(await gpu.read(param, 'f32'))]).toEqual([3, -6]); // 1 − lr·wd = 0.75, and m = 0
    expect([...(await gpu.read(v, 'f32'))]).toEqual([0.75, 0.75]);
  });

  it('bad dims and buffers throw ShapeError at the call', async () => {
    const gpu = await gpuPromise;
    const [param, m, v, grad] = ['param', 'm', 'v', 'grad'].map((name) => gpu.alloc(name, 4 * 4));
    const dims: AdamwDims = { n: 4, lr: 1e-3, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0, step: 1, slot: 0 };
    const status = gpu.alloc('status', 4);
    expect(() => adamwUpdate(gpu, param, m, v, grad, null, status, { ...dims, step: 0 })).toThrow(
      /adamwUpdate: dims.step, expected an integer ≥ 1/,
    );
    expect(() => adamwUpdate(gpu, param, m, v, grad, null, status, { ...dims, beta2: 1 })).toThrow(/dims.beta2/);
    expect(() => adamwUpdate(gpu, param, m, v, grad, null, status, { ...dims, lr: NaN })).toThrow(/dims.lr/);
    expect(() => adamwUpdate(gpu, param, m, v, grad, null, status, { ...dims, n: 5 })).toThrow(
      "adamw-update: binding 'param' (param) size, expected 20 bytes or more, got 16",
    );
    expect(() => adamwUpdate(gpu, param, m, m, grad, null, status, dims)).toThrow(
      /adamw-update: binding 'm' \(written\), expected a buffer distinct from 'v'/,
    );
    expect(() => adamwUpdate(gpu, param, m, v, grad, gpu.alloc('s', 0), status, dims)).toThrow(
      "adamw-update-scaled: binding 'gradScale' (s) size, expected 4 bytes or more, got 0",
    );
    expect(() => adamwUpdate(gpu, param, m, v, grad, null, status, { ...dims, slot: -1 })).toThrow(/dims.slot/);
  });
});
