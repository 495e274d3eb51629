// GELU, GPT-2's tanh form, elementwise on (n): y = ½·x·(1 + tanh(u)), u = √(2/π)·(x + 0.044715·x³).
// Since ½(1 + tanh(u)) = σ(2u), the kernels compute y = x·σ(2u) and y' = σ(2u) + 2x·σ(2u)·σ(−2u)·u'(x), saturated
// beyond |2u| > 80: no tanh (NaN at large |u| on some implementations), no exp overflow, no 1 + tanh cancellation.
import type { Gpu, Kernel } from '../gpu/gpu.ts';
import { ShapeError } from '../util/errors.ts';
import { strideGroups } from './grid.ts';
import type { GeluDims } from '../ops/dims.ts';

const WG = 256;

const COMMON = /* wgsl */ `
struct Dims { n: u32 }
const SQRT_2_OVER_PI: f32 = 0.7978845608028654;
const COEF: f32 = 0.044715;
// Beyond |2u| = 80, σ(2u) is 0 or 1 to within 2e-35: gelu is exactly 0 or x and gelu' is 0 or 1 (x³ may be ±∞ there).
const SATURATED: f32 = 80.0;

fn two_u(x: f32) -> f32 {
  return 2.0 * SQRT_2_OVER_PI * (x + COEF * x * x * x);
}

// exp(−2u) with 2u clamped to the unsaturated range, so that it stays finite.
fn exp_neg(t: f32) -> f32 {
  return exp(-clamp(t, -SATURATED, SATURATED));
}
`;

const GELU_FORWARD: Kernel = {
  name: 'gelu-forward',
  wgsl: /* wgsl */ `
// Workgroup ${WG}, grid-stride loop over n. One invocation: out[i] = x[i] · σ(2u(x[i])) = x[i] / (1 + exp(−2u)).
// Bindings: out (n) written; x (n) read.
${COMMON}
@group(0) @binding(0) var<storage, read_write> out: array<f32>;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<uniform> u: Dims;

@compute @workgroup_size(${WG})
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) groups: vec3u) {
  for (var i = gid.x; i < u.n; i += groups.x * ${WG}u) {
    let v = x[i];
    let t = two_u(v);
    out[i] = select(v / (1.0 + exp_neg(t)), select(0.0, v, t > 0.0), abs(t) > SATURATED);
  }
}
`,
  sizes: ({ n }) => ({ out: n, x: n }),
};

const GELU_BACKWARD: Kernel = {
  name: 'gelu-backward',
  wgsl: /* wgsl */ `
// Workgroup ${WG}, grid-stride loop over n. One invocation: dx[i] = dout[i] · gelu'(x[i]) with s = σ(2u),
// gelu' = s + 2x·s·(1 − s)·√(2/π)·(1 + 3·0.044715·x²).
// Bindings: dx (n) written; dout (n), x (n) read.
${COMMON}
@group(0) @binding(0) var<storage, read_write> dx: array<f32>;
@group(0) @binding(1) var<storage, read> dout: array<f32>;
@group(0) @binding(2) var<storage, read> x: array<f32>;
@group(0) @binding(3) var<uniform> u: Dims;

@compute @workgroup_size(${WG})
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) groups: vec3u) {
  for (var i = gid.x; i < u.n; i += groups.x * ${WG}u) {
    let v = x[i];
    let t = two_u(v);
    let e = exp_neg(t);
    let s = 1.0 / (1.0 + e);
    let one_minus_s = e / (1.0 + e);
    let du = SQRT_2_OVER_PI * (1.0 + 3.0 * COEF * v * v);
    let local = select(s + 2.0 * v * s * one_minus_s * du, select(0.0, 1.0, t > 0.0), abs(t) > SATURATED);
    dx[i] = dout[i] * local;
  }
}
`,
  sizes: ({ n }) => ({ dx: n, dout: n, x: n }),
};

export function geluForward(gpu: Gpu, out: GPUBuffer, x: GPUBuffer, dims: GeluDims): void {
  const { n } = dims;
  checkDims('geluForward', dims);
  gpu.dispatch(GELU_FORWARD, { out, x }, { n }, strideGroups(gpu, n, WG));
}

export function geluBackward(gpu: Gpu, dx: GPUBuffer, dout: GPUBuffer, x: GPUBuffer, dims: GeluDims): void {
  const { n } = dims;
  checkDims('geluBackward', dims);
  gpu.dispatch(GELU_BACKWARD, { dx, dout, x }, { n }, strideGroups(gpu, n, WG));
}

function checkDims(where: string, { n }: GeluDims): void {
  if (!Number.isInteger(n) || n < 0 || n >= 2 ** 32) {
    throw new ShapeError(`${where}: dims.n, expected an integer in [0, 2^32), got ${n}`);
  }
}
