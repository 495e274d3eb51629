// Token embedding lookup: out[n, :] = weight[ids[n], :] for ids (N) i32 and weight (V, C). The backward scatters
// rows back, dweight[v, c] = Σ_{n: ids[n] = v} dout[n, c], with one invocation per channel so no two invocations
// touch one float and the order over n is fixed (bit-for-bit reproducible, no atomics). Callers validate ids < V;
// the kernels still never index out of bounds: an id outside [0, V) reads as a zero row and its gradient is dropped.
// A weight past the binding limit goes in windows of rows [v0, v0 + rows), one dispatch each (gpu/ranges.ts).
import type { Gpu, Kernel } from '../gpu/gpu.ts';
import { ShapeError } from '../util/errors.ts';
import { strideGroups } from './grid.ts';
import { bindingRuns, window } from '../gpu/ranges.ts';
import type { EmbeddingDims } from '../ops/dims.ts';
import {
  dtypeSuffix,
  operandDeclaration,
  operandLoad,
  operandWords,
  type OperandDtype,
} from './half-wgsl.ts';

const WG = 256;
const WG_BACKWARD = 64;

// The weight is f32, or 16-bit (a frozen embedding) widened on load: one pipeline per dtype.
const embeddingForwardKernel = (dtype: OperandDtype): Kernel => ({
  name: `embedding-forward${dtypeSuffix(dtype)}`,
  wgsl: /* wgsl */ `
// Workgroup ${WG}, grid-stride loop over the N·C elements of out (c fastest, so neighbours copy one row).
// One invocation: out[n, c] = weight[ids[n], c] when ids[n] is in this window's rows [v0, v0 + rows), whose row v0
// starts at element skip of the binding; else 0 in the first window (an id outside [0, V) is in none).
// Bindings: out (N, C) written, ids (N) i32 read, weight (rows, C) window read.
struct Dims { N: u32, C: u32, v0: u32, rows: u32, skip: u32, first: u32 }
@group(0) @binding(0) var<storage, read_write> out: array<f32>;
@group(0) @binding(1) var<storage, read> ids: array<i32>;
${operandDeclaration('weight', 2, dtype)}
@group(0) @binding(3) var<uniform> u: Dims;

@compute @workgroup_size(${WG})
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) groups: vec3u) {
  let total = u.N * u.C;
  for (var idx = gid.x; idx < total; idx += groups.x * ${WG}u) {
    let id = ids[idx / u.C];
    if (id >= i32(u.v0) && u32(id) - u.v0 < u.rows) {
      out[idx] = ${operandLoad('weight', dtype, 'u.skip + (u32(id) - u.v0) * u.C + idx % u.C')};
    } else if (u.first != 0u) {
      out[idx] = 0.0;
    }
  }
}
`,
  sizes: ({ N, C, rows, skip }) => ({ out: N * C, ids: N, weight: operandWords(dtype, skip + rows * C) }),
});

const EMBEDDING_FORWARD = {
  f32: embeddingForwardKernel('f32'),
  f16: embeddingForwardKernel('f16'),
  bf16: embeddingForwardKernel('bf16'),
};

const EMBEDDING_BACKWARD: Kernel = {
  name: 'embedding-backward',
  wgsl: /* wgsl */ `
// Workgroup ${WG_BACKWARD}, grid-stride loop over the C channels; dweight is zeroed before this dispatch.
// One invocation owns column c: for n = 0, 1, ..., N-1 in order, dweight[ids[n], c] += dout[n, c] for the ids in
// this window's rows [v0, v0 + rows) (row v0 at element skip of the binding; others skipped).
// Bindings: dweight (rows, C) window read and written, dout (N, C) read, ids (N) i32 read.
struct Dims { N: u32, C: u32, v0: u32, rows: u32, skip: u32 }
@group(0) @binding(0) var<storage, read_write> dweight: array<f32>;
@group(0) @binding(1) var<storage, read> dout: array<f32>;
@group(0) @binding(2) var<storage, read> ids: array<i32>;
@group(0) @binding(3) var<uniform> u: Dims;

@compute @workgroup_size(${WG_BACKWARD})
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) groups: vec3u) {
  for (var c = gid.x; c < u.C; c += groups.x * ${WG_BACKWARD}u) {
    for (var n = 0u; n < u.N; n++) {
      let id = ids[n];
      if (id >= i32(u.v0) && u32(id) - u.v0 < u.rows) {
        dweight[u.skip + (u32(id) - u.v0) * u.C + c] += dout[n * u.C + c];
      }
    }
  }
}
`,
  sizes: ({ N, C, rows, skip }) => ({ dweight: skip + rows * C, dout: N * C, ids: N }),
};

export function embeddingForward(
  gpu: Gpu,
  out: GPUBuffer, // (N, C)
  ids: GPUBuffer, // (N) i32
  weight: GPUBuffer, // (V, C), f32 or dims.dtype
  dims: EmbeddingDims,
): void {
  const { N, C, V } = checkDims('embeddingForward', dims);
  const dtype = dims.dtype ?? 'f32';
  const bytes = dtype === 'f32' ? 4 : 2;
  bindingRuns(gpu, V, C, bytes).forEach(({ first: v0, count: rows }, i) => {
    const w = window(gpu, weight, v0 * C, rows * C, bytes);
    const uniforms = { N, C, v0, rows, skip: w.skip, first: i === 0 ? 1 : 0 };
    gpu.dispatch(
      EMBEDDING_FORWARD[dtype],
      { out, ids, weight: w.binding },
      uniforms,
      strideGroups(gpu, N * C, WG),
    );
  });
}

/** dweight (V, C) is overwritten; rows no id hits are 0. */
export function embeddingBackward(
  gpu: Gpu,
  dweight: GPUBuffer, // (V, C)
  dout: GPUBuffer, // (N, C)
  ids: GPUBuffer, // (N) i32
  dims: EmbeddingDims,
): void {
  const { N, C, V } = checkDims('embeddingBackward', dims);
  gpu.clear(dweight, V * C * 4);
  for (const { first: v0, count: rows } of bindingRuns(gpu, V, C)) {
    const w = window(gpu, dweight, v0 * C, rows * C);
    gpu.dispatch(
      EMBEDDING_BACKWARD,
      { dweight: w.binding, dout, ids },
      { N, C, v0, rows, skip: w.skip },
      strideGroups(gpu, C, WG_BACKWARD),
    );
  }
}

function checkDims(where: string, dims: EmbeddingDims): EmbeddingDims {
  for (const key of ['N', 'C', 'V'] as const) {
    const v = dims[key];
    if (!Number.isInteger(v) || v < 1) {
      throw new ShapeError(`${where}: dims.${key}, expected an integer ≥ 1, got ${v}`);
    }
  }
  // Flat indices are u32 in the kernels.
  const largest = Math.max(dims.N, dims.V) * dims.C;
  if (largest >= 2 ** 32) {
    throw new ShapeError(`${where}: max(N, V)·C, expected < 2^32 (u32 indices), got ${largest}`);
  }
  return dims;
}
