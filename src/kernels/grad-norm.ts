// Global L2 norm over many gradient buffers and the clip scale of torch.nn.utils.clip_grad_norm_, with no read-back:
// norm[0] = sqrt(Σ_buffers Σ_i g_i²), scale[0] = maxNorm > 0 ? min(1, maxNorm / (norm + 1e-6)) : 1.
// Two deterministic stages: per-workgroup partial sums (one dispatch per buffer) into a scratch, then one finalize.
import type { Gpu, Kernel } from '../gpu/gpu.ts';
import { ShapeError } from '../util/errors.ts';
import { elementRuns, slice } from '../gpu/ranges.ts';
import { treeSumWgsl } from './row-wgsl.ts';

const ELEMENTS_PER_INVOCATION = 4;

/**
 * Workgroup size and workgroups per buffer. Hardware: 256 × up to 256, enough to fill a GPU and few enough that the
 * finalize pass stays short. A software adapter runs a workgroup's invocations in turn on one CPU thread and switches
 * through all of them at every barrier, so the tree costs more than the loads: 32 × up to 64 there (a GPT-2 SFT step's
 * grad norm: 160 → 48 ms).
 */
export interface GradNormShape {
  wg: 32 | 256;
  maxGroups: number;
}

export const GRAD_NORM_SHAPES: Record<'hardware' | 'software', GradNormShape> = {
  hardware: { wg: 256, maxGroups: 256 },
  software: { wg: 32, maxGroups: 64 },
};

function gradNormShape(gpu: Gpu): GradNormShape {
  return GRAD_NORM_SHAPES[gpu.software ? 'software' : 'hardware'];
}

const partialKernel = (wg: number): Kernel => ({
  name: wg === 256 ? 'grad-norm-partial' : `grad-norm-partial-wg${wg}`,
  wgsl: /* wgsl */ `
// Workgroup ${wg}, grid-stride loop over the n elements of one gradient, or of one run of it (a gradient past the
// binding limit goes in runs that are multiples of the grid, so each invocation meets the same elements in the same
// order): invocation k of workgroup w sums g_i² for i = w·${wg} + k + j·groups·${wg} (j ascending), starting from its
// carry of the run before (first = 0); the last run ends in a fixed tree: partials[offset + w] = Σ of the workgroup.
// Bindings: partials (all buffers' workgroups) written at [offset, offset + groups), g (n) read, carry (groups·${wg}).
struct Dims { n: u32, offset: u32, first: u32, last: u32, groups: u32 }
@group(0) @binding(0) var<storage, read_write> partials: array<f32>;
@group(0) @binding(1) var<storage, read> g: array<f32>;
@group(0) @binding(2) var<uniform> u: Dims;
@group(0) @binding(3) var<storage, read_write> carry: array<f32>;
${treeSumWgsl(wg)}
@compute @workgroup_size(${wg})
fn main(@builtin(local_invocation_index) lid: u32, @builtin(global_invocation_id) gid: vec3u,
        @builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) groups: vec3u) {
  var s = 0.0;
  if (u.first == 0u) {
    s = carry[gid.x];
  }
  for (var i = gid.x; i < u.n; i += groups.x * ${wg}u) {
    s += g[i] * g[i];
  }
  if (u.last == 0u) {
    carry[gid.x] = s;
    return;
  }
  let total = reduce_sum(s, lid);
  if (lid == 0u) {
    partials[u.offset + wid.x] = total;
  }
}
`,
  sizes: ({ n, offset, groups }) => ({ partials: offset + groups, g: n, carry: groups * wg }),
});

const finalizeKernel = (wg: number): Kernel => ({
  name: wg === 256 ? 'grad-norm-finalize' : `grad-norm-finalize-wg${wg}`,
  wgsl: /* wgsl */ `
// One workgroup of ${wg}: invocation k sums partials[i] for i ≡ k (mod ${wg}) ascending, then a fixed tree.
// norm[0] = sqrt(Σ); scale[0] = min(1, maxNorm / (norm + 1e-6)) when maxNorm > 0, else 1.
// Bindings: norm (1) and scale (1) written, partials (count) read.
struct Dims { count: u32, maxNorm: f32 }
@group(0) @binding(0) var<storage, read_write> norm: array<f32>;
@group(0) @binding(1) var<storage, read_write> scale: array<f32>;
@group(0) @binding(2) var<storage, read> partials: array<f32>;
@group(0) @binding(3) var<uniform> u: Dims;
${treeSumWgsl(wg)}
@compute @workgroup_size(${wg})
fn main(@builtin(local_invocation_index) lid: u32) {
  var s = 0.0;
  for (var i = lid; i < u.count; i += ${wg}u) {
    s += partials[i];
  }
  let total = sqrt(reduce_sum(s, lid));
  if (lid == 0u) {
    norm[0] = total;
    scale[0] = select(1.0, min(1.0, u.maxNorm / (total + 1e-6)), u.maxNorm > 0.0);
  }
}
`,
  sizes: ({ count }) => ({ norm: 1, scale: 1, partials: count }),
});

const kernelCache = new Map<number, { partial: Kernel; finalize: Kernel }>();
function kernels(wg: number): { partial: Kernel; finalize: Kernel } {
  let k = kernelCache.get(wg);
  if (!k) kernelCache.set(wg, (k = { partial: partialKernel(wg), finalize: finalizeKernel(wg) }));
  return k;
}

export function gradNorm(
  gpu: Gpu,
  norm: GPUBuffer, // (1)
  scale: GPUBuffer, // (1)
  grads: { buffer: GPUBuffer; n: number }[], // each (n)
  maxNorm: number,
  { wg, maxGroups }: GradNormShape = gradNormShape(gpu), // checks pass the other adapter kind's to cover both
): void {
  checkArgs(norm, scale, grads, maxNorm);
  const { partial, finalize } = kernels(wg);
  // A gradient past the binding limit is summed in runs bound as windows (gpu/ranges.ts), each a multiple of the
  // grid, the invocations carrying their sums from run to run: the same additions in the same order as one binding.
  const room = Math.max(1, Math.floor(gpu.maxBindingBytes / 4 / wg / 2) * 2); // workgroups whose grid fits one binding
  const groups = grads.map(({ n }) => Math.min(Math.ceil(n / (wg * ELEMENTS_PER_INVOCATION)), maxGroups));
  const fitted = grads.map(({ n }, k) =>
    n * 4 <= gpu.maxBindingBytes ? groups[k] : Math.min(groups[k], room),
  );
  const count = fitted.reduce((a, b) => a + b, 0);
  const partials = gpu.alloc('grad-norm partials', Math.max(count, 1) * 4); // (count)
  const carry = gpu.alloc('grad-norm carry', Math.max(1, ...fitted) * wg * 4); // (groups · wg)
  let offset = 0;
  grads.forEach(({ buffer, n }, k) => {
    const runs = elementRuns(gpu, n, fitted[k] * wg);
    runs.forEach(({ first, count: c }, r) => {
      const last = r === runs.length - 1 ? 1 : 0;
      const uniforms = { n: c, offset, first: r === 0 ? 1 : 0, last, groups: fitted[k] };
      gpu.dispatch(partial, { partials, g: slice(buffer, first, c, n), carry }, uniforms, fitted[k]);
    });
    offset += fitted[k];
  });
  gpu.release(carry);
  gpu.dispatch(finalize, { norm, scale, partials }, { count, maxNorm }, 1);
  gpu.release(partials);
}

// Sizes are checked by each dispatch; norm, scale and the gradients must be distinct (written by different dispatches).
function checkArgs(
  norm: GPUBuffer,
  scale: GPUBuffer,
  grads: { buffer: GPUBuffer; n: number }[],
  maxNorm: number,
) {
  const fail = (what: string, expected: string, got: unknown) =>
    new ShapeError(`gradNorm: ${what}, expected ${expected}, got ${got}`);
  if (!(maxNorm >= 0 && Number.isFinite(maxNorm)))
    throw fail('maxNorm', 'a finite number ≥ 0 (0 = no clipping)', maxNorm);
  if (norm === scale) throw fail('scale', 'a buffer other than norm', 'the same one');
  grads.forEach(({ buffer, n }, k) => {
    if (!Number.isInteger(n) || n < 0 || n >= 2 ** 32)
      throw fail(`grads[${k}].n`, 'an integer in [0, 2^32)', n);
    if (buffer === norm || buffer === scale)
      throw fail(`grads[${k}]`, 'a buffer other than norm and scale', 'one of them');
  });
}
