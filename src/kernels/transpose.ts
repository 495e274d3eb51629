// Swap axes 1 and 2 of a 4-D tensor: x (d0, d1, d2, d3) → out (d0, d2, d1, d3), out[a, j, i, k] = x[a, i, j, k].
// Attention uses it for (B, T, NH, HS) → (B, NH, T, HS) and back. The backward is the same swap of dout
// (d0, d2, d1, d3) with d1 and d2 exchanged, so both directions share one kernel. Pure data movement: exact.
import type { Gpu, Kernel } from '../gpu/gpu.ts';
import { ShapeError } from '../util/errors.ts';
import { strideGroups } from './grid.ts';
import type { TransposeDims } from '../ops/dims.ts';

const WG = 256;

const TRANSPOSE_FORWARD: Kernel = {
  name: 'transpose-forward',
  wgsl: /* wgsl */ `
// Workgroup ${WG}, grid-stride loop over the d0·d1·d2·d3 elements of out (k fastest, so each run of d3 elements is
// a contiguous copy). One invocation: out[a, j, i, k] = x[a, i, j, k].
// Bindings: out (d0, d2, d1, d3) written, x (d0, d1, d2, d3) read.
struct Dims { d0: u32, d1: u32, d2: u32, d3: u32 }
@group(0) @binding(0) var<storage, read_write> out: array<f32>;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<uniform> u: Dims;

@compute @workgroup_size(${WG})
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) groups: vec3u) {
  let total = u.d0 * u.d1 * u.d2 * u.d3;
  for (var idx = gid.x; idx < total; idx += groups.x * ${WG}u) {
    let k = idx % u.d3;
    let row = idx / u.d3; // (a, j, i) flattened, i fastest
    let i = row % u.d1;
    let j = (row / u.d1) % u.d2;
    let a = row / (u.d1 * u.d2);
    out[idx] = x[((a * u.d1 + i) * u.d2 + j) * u.d3 + k];
  }
}
`,
  sizes: ({ d0, d1, d2, d3 }) => ({ out: d0 * d1 * d2 * d3, x: d0 * d1 * d2 * d3 }),
};

export function transposeForward(gpu: Gpu, out: GPUBuffer, x: GPUBuffer, dims: TransposeDims): void {
  dispatch(gpu, 'transposeForward', out, x, dims);
}

/** dx (d0, d1, d2, d3) from dout (d0, d2, d1, d3): the forward swap with d1 and d2 exchanged. */
export function transposeBackward(gpu: Gpu, dx: GPUBuffer, dout: GPUBuffer, dims: TransposeDims): void {
  const { d0, d1, d2, d3 } = dims;
  dispatch(gpu, 'transposeBackward', dx, dout, { d0, d1: d2, d2: d1, d3 });
}

function dispatch(gpu: Gpu, where: string, out: GPUBuffer, x: GPUBuffer, dims: TransposeDims): void {
  for (const key of ['d0', 'd1', 'd2', 'd3'] as const) {
    const v = dims[key];
    if (!Number.isInteger(v) || v < 1) {
      throw new ShapeError(`${where}: dims.${key}, expected an integer ≥ 1, got ${v}`);
    }
  }
  const { d0, d1, d2, d3 } = dims;
  const total = d0 * d1 * d2 * d3;
  if (total >= 2 ** 32) {
    throw new ShapeError(`${where}: d0·d1·d2·d3, expected < 2^32 (u32 indices), got ${total}`);
  }
  const groups = strideGroups(gpu, total, WG);
  gpu.dispatch(TRANSPOSE_FORWARD, { out, x }, { d0, d1, d2, d3 }, groups);
}
