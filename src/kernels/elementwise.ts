// Elementwise add, mul and scale of flat f32 tensors, plus the gradient accumulator acc += x. In a (n) op b, b is
// either the same size (bn = n) or a trailing vector broadcast over the n / bn rows: b[i % bn]. The backward passes are
// compositions: da is a copy or a product, db sums over the broadcast rows through the sum kernel (fixed order).
import type { Gpu, Kernel } from '../gpu/gpu.ts';
import { ShapeError } from '../util/errors.ts';
import { checkDistinct } from '../gpu/check-buffer.ts';
import { sumForward } from './sum.ts';
import { strideGroups } from './grid.ts';
import { elementRuns, slice } from '../gpu/ranges.ts';
import type { BroadcastDims, ScaleDims } from '../ops/dims.ts';

const WG = 256;

// `op` is a WGSL operator fixed at module load (+ or *), so there are exactly two binary pipelines.
function binaryKernel(name: string, op: '+' | '*'): Kernel {
  return {
    name,
    wgsl: /* wgsl */ `
// Workgroup ${WG}, grid-stride loop over the n elements. One invocation: out[i] = a[i] ${op} b[i % bn].
// Bindings: out (n) written, a (n) and b (bn) read.
struct Dims { n: u32, bn: u32 }
@group(0) @binding(0) var<storage, read_write> out: array<f32>;
@group(0) @binding(1) var<storage, read> a: array<f32>;
@group(0) @binding(2) var<storage, read> b: array<f32>;
@group(0) @binding(3) var<uniform> u: Dims;

@compute @workgroup_size(${WG})
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) groups: vec3u) {
  for (var i = gid.x; i < u.n; i += groups.x * ${WG}u) {
    out[i] = a[i] ${op} b[i % u.bn];
  }
}
`,
    sizes: ({ n, bn }) => ({ out: n, a: n, b: bn }),
  };
}

const ADD_FORWARD = binaryKernel('add-forward', '+');
const MUL_FORWARD = binaryKernel('mul-forward', '*');

const SCALE_FORWARD: Kernel = {
  name: 'scale-forward',
  wgsl: /* wgsl */ `
// Workgroup ${WG}, grid-stride loop over the n elements. One invocation: out[i] = alpha · a[i].
// Bindings: out (n) written, a (n) read.
struct Dims { n: u32, alpha: f32 }
@group(0) @binding(0) var<storage, read_write> out: array<f32>;
@group(0) @binding(1) var<storage, read> a: array<f32>;
@group(0) @binding(2) var<uniform> u: Dims;

@compute @workgroup_size(${WG})
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) groups: vec3u) {
  for (var i = gid.x; i < u.n; i += groups.x * ${WG}u) {
    out[i] = u.alpha * a[i];
  }
}
`,
  sizes: ({ n }) => ({ out: n, a: n }),
};

const ACCUMULATE: Kernel = {
  name: 'accumulate',
  wgsl: /* wgsl */ `
// Workgroup ${WG}, grid-stride loop over the n elements. One invocation: acc[i] += x[i].
// Bindings: acc (n) read and written, x (n) read.
struct Dims { n: u32 }
@group(0) @binding(0) var<storage, read_write> acc: array<f32>;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<uniform> u: Dims;

@compute @workgroup_size(${WG})
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) groups: vec3u) {
  for (var i = gid.x; i < u.n; i += groups.x * ${WG}u) {
    acc[i] += x[i];
  }
}
`,
  sizes: ({ n }) => ({ acc: n, x: n }),
};

export function addForward(gpu: Gpu, out: GPUBuffer, a: GPUBuffer, b: GPUBuffer, dims: BroadcastDims): void {
  binary(gpu, ADD_FORWARD, 'addForward', out, a, b, dims);
}

/** da = dout; db[j] = Σ_r dout[r·bn + j]. Either output may be null. */
export function addBackward(
  gpu: Gpu,
  da: GPUBuffer | null,
  db: GPUBuffer | null,
  dout: GPUBuffer,
  dims: BroadcastDims,
): void {
  const where = 'addBackward';
  const { n, bn } = checkBroadcast(where, dims);
  checkDistinct(where, { da, db }, { dout });
  if (da) gpu.copy(dout, da, n * 4);
  if (db) {
    if (bn === n) gpu.copy(dout, db, n * 4);
    else sumForward(gpu, db, dout, { outer: 1, axis: n / bn, inner: bn });
  }
}

export function mulForward(gpu: Gpu, out: GPUBuffer, a: GPUBuffer, b: GPUBuffer, dims: BroadcastDims): void {
  binary(gpu, MUL_FORWARD, 'mulForward', out, a, b, dims);
}

/** da = dout ⊙ b (broadcast); db[j] = Σ_r dout[r·bn + j] · a[r·bn + j]. Either output may be null. */
export function mulBackward(
  gpu: Gpu,
  da: GPUBuffer | null,
  db: GPUBuffer | null,
  dout: GPUBuffer,
  a: GPUBuffer,
  b: GPUBuffer,
  dims: BroadcastDims,
): void {
  const where = 'mulBackward';
  const { n, bn } = checkBroadcast(where, dims);
  checkDistinct(where, { da, db }, { dout, a, b });
  if (da) binary(gpu, MUL_FORWARD, where, da, dout, b, dims);
  if (!db) return;
  if (bn === n) {
    binary(gpu, MUL_FORWARD, where, db, dout, a, dims);
    return;
  }
  const product = gpu.alloc('mul-backward product', n * 4); // (n / bn, bn)
  binary(gpu, MUL_FORWARD, where, product, dout, a, { n, bn: n });
  sumForward(gpu, db, product, { outer: 1, axis: n / bn, inner: bn });
  gpu.release(product);
}

export function scaleForward(gpu: Gpu, out: GPUBuffer, a: GPUBuffer, dims: ScaleDims): void {
  scale(gpu, 'scaleForward', out, a, dims);
}

/** da = alpha · dout. */
export function scaleBackward(gpu: Gpu, da: GPUBuffer, dout: GPUBuffer, dims: ScaleDims): void {
  scale(gpu, 'scaleBackward', da, dout, dims);
}

/** acc += x, for summing gradients that reach one tensor along several paths. */
export function accumulate(gpu: Gpu, acc: GPUBuffer, x: GPUBuffer, dims: { n: number }): void {
  const { n } = dims;
  checkCount('accumulate', 'n', n);
  // A tied embedding's gradient can pass the binding limit: runs of elements bound as windows (gpu/ranges.ts).
  for (const { first, count } of elementRuns(gpu, n)) {
    const bind = { acc: slice(acc, first, count, n), x: slice(x, first, count, n) };
    gpu.dispatch(ACCUMULATE, bind, { n: count }, strideGroups(gpu, count, WG));
  }
}

function binary(
  gpu: Gpu,
  kernel: Kernel,
  where: string,
  out: GPUBuffer,
  a: GPUBuffer,
  b: GPUBuffer,
  dims: BroadcastDims,
): void {
  const { n, bn } = checkBroadcast(where, dims);
  gpu.dispatch(kernel, { out, a, b }, { n, bn }, strideGroups(gpu, n, WG));
}

function scale(gpu: Gpu, where: string, out: GPUBuffer, a: GPUBuffer, dims: ScaleDims): void {
  const { n, alpha } = dims;
  checkCount(where, 'n', n);
  if (!Number.isFinite(alpha)) {
    throw new ShapeError(`${where}: dims.alpha, expected a finite number, got ${alpha}`);
  }
  gpu.dispatch(SCALE_FORWARD, { out, a }, { n, alpha }, strideGroups(gpu, n, WG));
}

function checkCount(where: string, name: string, v: number): void {
  if (!Number.isInteger(v) || v < 1 || v >= 2 ** 32) {
    throw new ShapeError(`${where}: dims.${name}, expected an integer in [1, 2^32), got ${v}`);
  }
}

function checkBroadcast(where: string, dims: BroadcastDims): BroadcastDims {
  checkCount(where, 'n', dims.n);
  checkCount(where, 'bn', dims.bn);
  if (dims.n % dims.bn !== 0) {
    throw new ShapeError(
      `${where}: dims.bn, expected a divisor of n = ${dims.n} (a broadcast trailing vector), got ${dims.bn}`,
    );
  }
  return dims;
}
