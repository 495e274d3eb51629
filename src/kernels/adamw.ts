// Fused AdamW, in place on param, m, v (n) f32, with torch.optim.AdamW's semantics: g = grad · gradScale[0],
// param −= lr·wd·param (decoupled decay first), m = β1·m + (1−β1)·g, v = β2·v + (1−β2)·g²,
// param −= lr/(1−β1^step) · m / (sqrt(v)/sqrt(1−β2^step) + eps). The bias corrections are computed in float64 here.
// An updated weight that is not finite lowers status[0] to dims.slot (atomicMin), so one read after a step of many
// tensors names the first one that went bad; status starts at NO_BAD_SLOT.
import type { Gpu, Kernel, Uniforms } from '../gpu/gpu.ts';
import { ShapeError } from '../util/errors.ts';
import { strideGroups } from './grid.ts';
import { elementRuns, slice } from '../gpu/ranges.ts';
import type { AdamwDims } from '../ops/dims.ts';

const WG = 256;

/** status[0] when every updated weight is finite. */
export const NO_BAD_SLOT = 0xffffffff;

// Without a clip scale the kernel has no gradScale binding at all (every declared binding must be bound and used),
// so there are two variants of one source.
function adamwWgsl(scaled: boolean): string {
  return /* wgsl */ `
// Workgroup ${WG}, grid-stride loop over the n elements; one invocation updates param[i], m[i], v[i] in place.
// Bindings: param, m, v (n) read and written; grad (n) read; status (1) atomic${scaled ? '; gradScale (1) read' : ''}.
struct Dims { n: u32, decay: f32, beta1: f32, oneMinusBeta1: f32, beta2: f32, oneMinusBeta2: f32,
              stepSize: f32, sqrtBias2: f32, eps: f32, slot: u32 }
@group(0) @binding(0) var<storage, read_write> param: array<f32>;
@group(0) @binding(1) var<storage, read_write> m: array<f32>;
@group(0) @binding(2) var<storage, read_write> v: array<f32>;
@group(0) @binding(3) var<storage, read> grad: array<f32>;
@group(0) @binding(4) var<uniform> u: Dims;
@group(0) @binding(5) var<storage, read_write> status: array<atomic<u32>>;
${scaled ? '@group(0) @binding(6) var<storage, read> gradScale: array<f32>;' : ''}

@compute @workgroup_size(${WG})
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) groups: vec3u) {
  let scale = ${scaled ? 'gradScale[0]' : '1.0'};
  for (var i = gid.x; i < u.n; i += groups.x * ${WG}u) {
    let g = grad[i] * scale;
    var p = param[i];
    p -= u.decay * p; // decay = lr · weightDecay, applied before the Adam step
    let mi = u.beta1 * m[i] + u.oneMinusBeta1 * g;
    let vi = u.beta2 * v[i] + u.oneMinusBeta2 * g * g;
    m[i] = mi;
    v[i] = vi;
    let updated = p - u.stepSize * mi / (sqrt(vi) / u.sqrtBias2 + u.eps);
    param[i] = updated;
    // Exponent bits all ones: Inf or NaN (a comparison such as x != x may be folded away by the compiler).
    if ((bitcast<u32>(updated) & 0x7f800000u) == 0x7f800000u) {
      atomicMin(&status[0], u.slot);
    }
  }
}
`;
}

const sizes = ({ n }: Uniforms) => ({ param: n, m: n, v: n, grad: n, status: 1 });
const ADAMW_UPDATE: Kernel = { name: 'adamw-update', wgsl: adamwWgsl(false), sizes };
const ADAMW_UPDATE_SCALED: Kernel = {
  name: 'adamw-update-scaled',
  wgsl: adamwWgsl(true),
  sizes: (u) => ({ ...sizes(u), gradScale: 1 }),
};

export function adamwUpdate(
  gpu: Gpu,
  param: GPUBuffer, // (n), updated in place
  m: GPUBuffer, // (n), updated in place
  v: GPUBuffer, // (n), updated in place
  grad: GPUBuffer, // (n)
  gradScale: GPUBuffer | null, // (1), the clip scale; null = 1
  status: GPUBuffer, // (1) u32, lowered to dims.slot when an updated weight is not finite
  dims: AdamwDims,
): void {
  const { n, lr, beta1, beta2, eps, weightDecay, step, slot } = dims;
  checkDims(dims);
  // PyTorch's order of operations: step_size = lr / (1 − β1^t), denom = sqrt(v) / sqrt(1 − β2^t) + eps.
  const uniforms = {
    n,
    decay: lr * weightDecay,
    beta1,
    oneMinusBeta1: 1 - beta1,
    beta2,
    oneMinusBeta2: 1 - beta2,
    stepSize: lr / (1 - beta1 ** step),
    sqrtBias2: Math.sqrt(1 - beta2 ** step),
    eps,
    slot,
  };
  // A tensor past the binding limit (GPT-2's wte and its state) goes in runs bound as windows (gpu/ranges.ts).
  for (const { first, count } of elementRuns(gpu, n)) {
    const [p, mm, vv, g] = [param, m, v, grad].map((b) => slice(b, first, count, n));
    const groups = strideGroups(gpu, count, WG);
    const bind = { param: p, m: mm, v: vv, grad: g, status };
    const run = { ...uniforms, n: count };
    if (gradScale) gpu.dispatch(ADAMW_UPDATE_SCALED, { ...bind, gradScale }, run, groups);
    else gpu.dispatch(ADAMW_UPDATE, bind, run, groups);
  }
}

function checkDims(dims: AdamwDims): void {
  const fail = (what: string, expected: string, got: unknown) =>
    new ShapeError(`adamwUpdate: ${what}, expected ${expected}, got ${got}`);
  const { n, lr, beta1, beta2, eps, weightDecay, step, slot } = dims;
  if (!Number.isInteger(slot) || slot < 0 || slot >= NO_BAD_SLOT)
    throw fail('dims.slot', 'an integer in [0, 2^32 − 1)', slot);
  if (!Number.isInteger(n) || n < 0 || n >= 2 ** 32) throw fail('dims.n', 'an integer in [0, 2^32)', n);
  if (!Number.isInteger(step) || step < 1) throw fail('dims.step', 'an integer ≥ 1 (1-based)', step);
  for (const [key, b] of Object.entries({ beta1, beta2 })) {
    if (!(b >= 0 && b < 1)) throw fail(`dims.${key}`, 'a number in [0, 1)', b);
  }
  for (const [key, x] of Object.entries({ lr, eps, weightDecay })) {
    if (!(x >= 0 && Number.isFinite(x))) throw fail(`dims.${key}`, 'a finite number ≥ 0', x);
  }
}
