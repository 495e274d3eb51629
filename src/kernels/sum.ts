// Sum over the middle axis of an (outer, axis, inner) view: out[o, i] = scale · Σ_a x[o, a, i], in a fixed order.
// A long axis with few outputs is split into chunks summed in a first pass and then combined in a second pass, so
// both "many short sums" and "few long sums" keep the GPU busy. Backward broadcasts: dx[o, a, i] = scale · dout[o, i].
import type { Gpu, Kernel } from '../gpu/gpu.ts';
import { ShapeError } from '../util/errors.ts';
import { strideGroups } from './grid.ts';
import type { SumDims } from '../ops/dims.ts';

const WG = 256;

const SUM_FORWARD: Kernel = {
  name: 'sum-forward',
  wgsl: /* wgsl */ `
// Workgroup 256, grid-stride loop over outer·chunks·inner outputs (i fastest, so neighbours read neighbouring x).
// One invocation: out[o, c, i] = scale · Σ x[o, a, i] for a in [c·chunk, min((c+1)·chunk, axis)), a ascending.
// Bindings: out (outer, chunks, inner) written, x (outer, axis, inner) read.
struct Dims { outer: u32, axis: u32, inner: u32, chunks: u32, chunk: u32, scale: f32 }
@group(0) @binding(0) var<storage, read_write> out: array<f32>;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<uniform> u: Dims;

@compute @workgroup_size(${WG})
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) groups: vec3u) {
  let total = u.outer * u.chunks * u.inner;
  for (var idx = gid.x; idx < total; idx += groups.x * ${WG}u) {
    let i = idx % u.inner;
    let c = (idx / u.inner) % u.chunks;
    let o = idx / (u.inner * u.chunks);
    let begin = c * u.chunk;
    let end = min(begin + u.chunk, u.axis);
    var acc = 0.0;
    var p = (o * u.axis + begin) * u.inner + i;
    for (var a = begin; a < end; a++) {
      acc += x[p];
      p += u.inner;
    }
    out[idx] = u.scale * acc;
  }
}
`,
  sizes: ({ outer, axis, inner, chunks }) => ({ out: outer * chunks * inner, x: outer * axis * inner }),
};

const SUM_BACKWARD: Kernel = {
  name: 'sum-backward',
  wgsl: /* wgsl */ `
// Workgroup 256, grid-stride loop over the outer·axis·inner elements of dx.
// One invocation: dx[o, a, i] = scale · dout[o, i].
// Bindings: dx (outer, axis, inner) written, dout (outer, inner) read.
struct Dims { outer: u32, axis: u32, inner: u32, scale: f32 }
@group(0) @binding(0) var<storage, read_write> dx: array<f32>;
@group(0) @binding(1) var<storage, read> dout: array<f32>;
@group(0) @binding(2) var<uniform> u: Dims;

@compute @workgroup_size(${WG})
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) groups: vec3u) {
  let total = u.outer * u.axis * u.inner;
  for (var idx = gid.x; idx < total; idx += groups.x * ${WG}u) {
    let i = idx % u.inner;
    let o = idx / (u.inner * u.axis);
    dx[idx] = u.scale * dout[o * u.inner + i];
  }
}
`,
  sizes: ({ outer, axis, inner }) => ({ dx: outer * axis * inner, dout: outer * inner }),
};

// Below this many outputs a long axis is split into chunks; chunks stay at least MIN_CHUNK long.
const TARGET_PARALLELISM = 16384;
const MIN_CHUNK = 64;

export function sumForward(gpu: Gpu, out: GPUBuffer, x: GPUBuffer, dims: SumDims): void {
  const { outer, axis, inner } = dims;
  const scale = checkDims('sumForward', dims);
  const outputs = outer * inner;
  let chunks = 1;
  if (outputs < TARGET_PARALLELISM && axis >= 2 * MIN_CHUNK) {
    chunks = Math.min(Math.floor(axis / MIN_CHUNK), Math.ceil(TARGET_PARALLELISM / outputs));
  }
  if (chunks === 1) {
    dispatchSum(gpu, out, x, outer, axis, inner, 1, axis, scale);
    return;
  }
  const chunk = Math.ceil(axis / chunks);
  chunks = Math.ceil(axis / chunk);
  const partial = gpu.alloc('sum partial', outputs * chunks * 4); // (outer, chunks, inner)
  dispatchSum(gpu, partial, x, outer, axis, inner, chunks, chunk, 1);
  sumForward(gpu, out, partial, { outer, axis: chunks, inner, scale }); // splits again if chunks is still long
  gpu.release(partial);
}

export function sumBackward(gpu: Gpu, dx: GPUBuffer, dout: GPUBuffer, dims: SumDims): void {
  const { outer, axis, inner } = dims;
  const scale = checkDims('sumBackward', dims);
  const total = outer * axis * inner;
  gpu.dispatch(SUM_BACKWARD, { dx, dout }, { outer, axis, inner, scale }, strideGroups(gpu, total, WG));
}

function dispatchSum(
  gpu: Gpu,
  out: GPUBuffer,
  x: GPUBuffer,
  outer: number,
  axis: number,
  inner: number,
  chunks: number,
  chunk: number,
  scale: number,
): void {
  const uniforms = { outer, axis, inner, chunks, chunk, scale };
  gpu.dispatch(SUM_FORWARD, { out, x }, uniforms, strideGroups(gpu, outer * chunks * inner, WG));
}

function checkDims(where: string, dims: SumDims): number {
  for (const key of ['outer', 'axis', 'inner'] as const) {
    const v = dims[key];
    if (!Number.isInteger(v) || v < 1) {
      throw new ShapeError(`${where}: dims.${key}, expected an integer ≥ 1, got ${v}`);
    }
  }
  const elements = dims.outer * dims.axis * dims.inner;
  if (elements >= 2 ** 32) {
    throw new ShapeError(`${where}: outer·axis·inner, expected < 2^32 (u32 indices), got ${elements}`);
  }
  const scale = dims.scale ?? 1;
  if (!Number.isFinite(scale)) {
    throw new ShapeError(`${where}: dims.scale, expected a finite number, got ${scale}`);
  }
  return scale;
}
