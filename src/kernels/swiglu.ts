// SwiGLU's elementwise part, the gate of Llama's MLP, on (n): out = silu(gate) ⊙ up with silu(g) = g·σ(g).
// Backward: dgate = dout ⊙ up ⊙ σ(g)·(1 + g·(1 − σ(g))), dup = dout ⊙ silu(g). σ and 1 − σ come from e = exp(−|g|),
// which never overflows and keeps 1 − σ exact where σ rounds to 1.
import type { Gpu, Kernel } from '../gpu/gpu.ts';
import { ShapeError } from '../util/errors.ts';
import { strideGroups } from './grid.ts';
import type { SwigluDims } from '../ops/dims.ts';

const WG = 256;

const COMMON = /* wgsl */ `
struct Dims { n: u32 }

// (σ(g), 1 − σ(g)), each a ratio of e = exp(−|g|) ∈ (0, 1] and 1 + e: no overflow and no 1 − σ cancellation.
fn sigmoid_pair(g: f32) -> vec2f {
  let e = exp(-abs(g));
  let big = 1.0 / (1.0 + e);
  let small = e / (1.0 + e);
  return select(vec2f(small, big), vec2f(big, small), g >= 0.0);
}
`;

const SWIGLU_FORWARD: Kernel = {
  name: 'swiglu-forward',
  wgsl: /* wgsl */ `
// Workgroup ${WG}, grid-stride loop over n. One invocation: out[i] = gate[i]·σ(gate[i])·up[i].
// Bindings: out (n) written; gate (n), up (n) read.
${COMMON}
@group(0) @binding(0) var<storage, read_write> out: array<f32>;
@group(0) @binding(1) var<storage, read> gate: array<f32>;
@group(0) @binding(2) var<storage, read> up: array<f32>;
@group(0) @binding(3) var<uniform> u: Dims;

@compute @workgroup_size(${WG})
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) groups: vec3u) {
  for (var i = gid.x; i < u.n; i += groups.x * ${WG}u) {
    let g = gate[i];
    out[i] = g * sigmoid_pair(g).x * up[i];
  }
}
`,
  sizes: ({ n }) => ({ out: n, gate: n, up: n }),
};

// With `withUp`, one pass writes both gradients; without, only dgate (dup alone is the forward with up ← dout).
function backwardKernel(name: string, withUp: boolean): Kernel {
  const outputs = withUp ? ['dgate', 'dup'] : ['dgate'];
  return {
    name,
    wgsl: /* wgsl */ `
// Workgroup ${WG}, grid-stride loop over n. One invocation, with s = σ(g): dgate[i] = dout·up·s·(1 + g·(1 − s))${
      withUp ? ',\n// dup[i] = dout·g·s' : ''
    }.
// Bindings: dgate (n)${withUp ? ', dup (n)' : ''} written; dout (n), gate (n), up (n) read.
${COMMON}
${bindings(outputs, ['dout', 'gate', 'up'])}

@compute @workgroup_size(${WG})
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) groups: vec3u) {
  for (var i = gid.x; i < u.n; i += groups.x * ${WG}u) {
    let g = gate[i];
    let d = dout[i];
    let s = sigmoid_pair(g);
    dgate[i] = d * up[i] * s.x * (1.0 + g * s.y);${withUp ? '\n    dup[i] = d * g * s.x;' : ''}
  }
}
`,
    sizes: ({ n }) => Object.fromEntries([...outputs, 'dout', 'gate', 'up'].map((v) => [v, n])),
  };
}

// Storage bindings numbered in order, outputs read_write then inputs read, then the uniform.
function bindings(outputs: string[], inputs: string[]): string {
  const storage = [...outputs.map((v) => [v, 'read_write']), ...inputs.map((v) => [v, 'read'])];
  const lines = storage.map(
    ([v, access], i) => `@group(0) @binding(${i}) var<storage, ${access}> ${v}: array<f32>;`,
  );
  return [...lines, `@group(0) @binding(${storage.length}) var<uniform> u: Dims;`].join('\n');
}

const SWIGLU_BACKWARD = backwardKernel('swiglu-backward', true);
const SWIGLU_BACKWARD_DGATE = backwardKernel('swiglu-backward-dgate', false);

export function swigluForward(
  gpu: Gpu,
  out: GPUBuffer,
  gate: GPUBuffer,
  up: GPUBuffer,
  dims: SwigluDims,
): void {
  checkDims('swigluForward', dims);
  gpu.dispatch(SWIGLU_FORWARD, { out, gate, up }, { n: dims.n }, strideGroups(gpu, dims.n, WG));
}

/** dgate and dup, each overwritten, or skipped when null (a frozen input). */
export function swigluBackward(
  gpu: Gpu,
  dgate: GPUBuffer | null,
  dup: GPUBuffer | null,
  dout: GPUBuffer,
  gate: GPUBuffer,
  up: GPUBuffer,
  dims: SwigluDims,
): void {
  checkDims('swigluBackward', dims);
  const { n } = dims;
  if (dgate && dup)
    gpu.dispatch(SWIGLU_BACKWARD, { dgate, dup, dout, gate, up }, { n }, strideGroups(gpu, n, WG));
  else if (dgate)
    gpu.dispatch(SWIGLU_BACKWARD_DGATE, { dgate, dout, gate, up }, { n }, strideGroups(gpu, n, WG));
  else if (dup) gpu.dispatch(SWIGLU_FORWARD, { out: dup, gate, up: dout }, { n }, strideGroups(gpu, n, WG));
}

function checkDims(where: string, { n }: SwigluDims): void {
  if (!Number.isInteger(n) || n < 0 || n >= 2 ** 32) {
    throw new ShapeError(`${where}: dims.n, expected an integer in [0, 2^32), got ${n}`);
  }
}
