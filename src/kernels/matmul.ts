// Batched matmul: out (batch, M, N) = op(A) · op(B) (+ bias (N) over rows) (+ out when accumulating), where op(A) is
// (M, K) stored either (M, K) or transposed (K, M), and likewise op(B) is (K, N) stored (K, N) or (N, K). A batch
// stride of 0 shares one operand across the batch. Backward is composed from forward matmuls and the sum kernel:
// dA = dOut · op(B)ᵀ, dB = op(A)ᵀ · dOut (in the operand's own storage layout), dBias = Σ dOut over batch and rows.
import type { Gpu, Kernel } from '../gpu/gpu.ts';
import { ShapeError } from '../util/errors.ts';
import { checkDistinct } from '../gpu/check-buffer.ts';
import {
  MATMUL_HALF,
  MATMUL_NAIVE,
  MATMUL_REGISTER,
  MATMUL_SUBGROUP,
  MATMUL_WORKGROUP,
  NAIVE_WG,
  REG,
  SUB,
  WGT,
  type OperandDtype,
} from './matmul-wgsl.ts';
import { sumForward } from './sum.ts';
import { resolvePlan, type Plan } from './matmul-plan.ts';
import { matmulBlocks } from './matmul-blocks.ts';
import type { MatmulDims } from '../ops/dims.ts';

export { MATMUL_NAIVE, MATMUL_REGISTER, MATMUL_SUBGROUP, MATMUL_WORKGROUP };

export type MatmulVariant = 'naive' | 'register' | 'subgroup' | 'workgroup';
export const MATMUL_VARIANTS: readonly MatmulVariant[] = ['naive', 'register', 'subgroup', 'workgroup'];

const KERNELS: Record<MatmulVariant, { kernel: Kernel; tileM: number; tileN: number }> = {
  naive: { kernel: MATMUL_NAIVE, tileM: NAIVE_WG, tileN: NAIVE_WG },
  register: { kernel: MATMUL_REGISTER, tileM: REG.TM * REG.WGY, tileN: REG.TN * REG.WGX },
  subgroup: { kernel: MATMUL_SUBGROUP, tileM: SUB.TM, tileN: SUB.TN * SUB.SG },
  workgroup: { kernel: MATMUL_WORKGROUP, tileM: WGT.BM, tileN: WGT.BN },
};

/** Whether this device can run the variant: the subgroup form needs subgroups of exactly SUB.SG lanes. */
export function matmulVariantAvailable(gpu: Gpu, variant: MatmulVariant): boolean {
  return variant !== 'subgroup' || gpu.subgroupSize === SUB.SG;
}

/**
 * Register blocking wins on software adapters (SwiftShader), with A shared across the subgroup where the device has
 * 4-lane subgroups (SwiftShader has); workgroup-memory tiles win on real GPUs.
 */
export function defaultMatmulVariant(gpu: Gpu): MatmulVariant {
  if (!gpu.software) return 'workgroup';
  return matmulVariantAvailable(gpu, 'subgroup') ? 'subgroup' : 'register';
}

/**
 * The variant for one shape when the caller named none. Measured on SwiftShader (2 cores), register blocking beats
 * one-output-per-invocation even where its tiles are mostly empty: lm-head 1×64×50257 67 vs 78 ms, 7 rows 75 vs
 * 308 ms, dhidden 160×64 with K = 50257 512 ms vs 9.4 s. Only outputs too small to matter go to the naive kernel.
 */
function pickMatmulVariant(gpu: Gpu, p: { M: number; N: number; batch: number }): MatmulVariant {
  return p.M * p.N * p.batch < 256 ? 'naive' : defaultMatmulVariant(gpu);
}

/**
 * Longest run of k summed in one f32 accumulator: a longer K goes in slabs whose partial sums are added. GPT-2's
 * d(hidden) = d(logits) · W sums K = V = 50257 products, and in one accumulator it drifted 1.4e-3 (relative to the
 * largest gradient) from float64 in the first layers' gradients; in slabs of 1024, 1.2e-5 (PyTorch's f32: 6.7e-5).
 */
export const K_SLAB = 1024;

function encode(
  gpu: Gpu,
  variant: MatmulVariant | undefined,
  out: GPUBuffer,
  a: GPUBuffer,
  b: GPUBuffer,
  bias: GPUBuffer | null,
  p: Plan,
  accumulate = false,
): void {
  const chosen = variant ?? pickMatmulVariant(gpu, p);
  if (!matmulVariantAvailable(gpu, chosen)) {
    throw new ShapeError(
      `matmul: variant ${chosen}, expected a device with ${SUB.SG}-lane subgroups, got subgroup size ${gpu.subgroupSize ?? 'none'}`,
    );
  }
  const { tileM, tileN } = KERNELS[chosen];
  const kernel = p.dtypeB === 'f32' ? KERNELS[chosen].kernel : MATMUL_HALF[p.dtypeB][chosen];
  const { M, N, K, transA, transB } = p;
  const strides = { strideA: p.strideA, strideB: p.strideB, strideOut: p.strideOut };
  const layout = { sAm: transA ? 1 : K, sAk: transA ? M : 1, sBk: transB ? 1 : N, sBn: transB ? K : 1 };
  const max = gpu.limits.maxComputeWorkgroupsPerDimension;
  // K in slabs of K_SLAB, each its own f32 partial sum added to out by the next (accumulating) dispatch; operands
  // past the binding limit go in blocks of rows and columns bound as windows (matmul-blocks.ts).
  const bytesB = p.dtypeB === 'f32' ? 4 : 2;
  for (const blk of matmulBlocks(gpu, { ...p, ...layout, bytesB }, { out, A: a, B: b }, K_SLAB)) {
    const { offA, offB, offOut, n0: offBias, k0 } = blk;
    const flags = {
      K: blk.K,
      batch: p.batch,
      accumulate: accumulate || k0 > 0 ? 1 : 0,
      hasBias: bias && k0 === 0 ? 1 : 0,
      offA,
      offB,
      offOut,
      ldOut: N,
      offBias,
    };
    const buffers = { out: blk.out, A: blk.A, B: blk.B, bias: bias ?? blk.A }; // without a bias, A fills the (unread) binding
    const [nx, ny, nz] = [Math.ceil(blk.N / tileN), Math.ceil(blk.M / tileM), p.batch];
    for (let batch0 = 0; batch0 < nz; batch0 += max) {
      for (let tileM0 = 0; tileM0 < ny; tileM0 += max) {
        for (let tileN0 = 0; tileN0 < nx; tileN0 += max) {
          const uniforms = { M: blk.M, N: blk.N, ...strides, ...layout, ...flags, batch0, tileM0, tileN0 };
          const groups: [number, number, number] = [
            Math.min(max, nx - tileN0),
            Math.min(max, ny - tileM0),
            Math.min(max, nz - batch0),
          ];
          gpu.dispatch(kernel, buffers, uniforms, groups);
        }
      }
    }
  }
}

export function matmulForward(
  gpu: Gpu,
  out: GPUBuffer,
  a: GPUBuffer,
  b: GPUBuffer,
  bias: GPUBuffer | null,
  dims: MatmulDims,
  variant?: MatmulVariant,
): void {
  checkVariant('matmulForward', variant);
  const p = resolvePlan('matmulForward', dims);
  encode(gpu, variant, out, a, b, bias, p, dims.accumulate ?? false);
}

export function matmulBackward(
  gpu: Gpu,
  dA: GPUBuffer | null,
  dB: GPUBuffer | null,
  dBias: GPUBuffer | null,
  dOut: GPUBuffer,
  a: GPUBuffer,
  b: GPUBuffer,
  dims: MatmulDims,
  variant?: MatmulVariant,
): void {
  if (dims.offsets)
    throw new ShapeError(
      `matmulBackward: dims.offsets, expected none (forward only), got ${JSON.stringify(dims.offsets)}`,
    );
  checkVariant('matmulBackward', variant);
  const p = resolvePlan('matmulBackward', dims);
  const { batch, M, N, K, transA, transB, strideA, strideB, dtypeB } = p;
  // A 16-bit B is a frozen weight: it has no gradient, and stays the B operand of dA = dOut · op(B)ᵀ.
  if (dtypeB !== 'f32' && (dB || (dA && transA))) {
    throw new ShapeError(
      `matmulBackward: ${dB ? 'dB' : 'dA with transA'}, expected an f32 B (a ${dtypeB} B is a frozen weight: no dB, and only the B operand), got dtypeB ${dtypeB}`,
    );
  }
  checkDistinct('matmulBackward', { dA, dB, dBias }, { dOut, a, b });
  const MN = M * N;
  if (dA) {
    // dA = dOut · op(B)ᵀ, or op(B) · dOutᵀ when A is stored transposed (K, M).
    const g = transA
      ? { M: K, N: M, K: N, a: b, transA: transB, strideA: strideB, b: dOut, transB: true, strideB: MN }
      : { M, N: K, K: N, a: dOut, transA: false, strideA: MN, b, transB: !transB, strideB, dtypeB };
    gradient(gpu, variant, dA, batch, strideA, g);
  }
  if (dB) {
    // dB = op(A)ᵀ · dOut, or dOutᵀ · op(A) when B is stored transposed (N, K).
    const g = transB
      ? { M: N, N: K, K: M, a: dOut, transA: true, strideA: MN, b: a, transB: transA, strideB: strideA }
      : { M: K, N, K: M, a, transA: !transA, strideA, b: dOut, transB: false, strideB: MN };
    gradient(gpu, variant, dB, batch, strideB, g);
  }
  if (dBias) sumForward(gpu, dBias, dOut, { outer: 1, axis: batch * M, inner: N });
}

type GradPlan = Omit<Plan, 'batch' | 'strideOut' | 'dtypeB' | 'offA' | 'offB' | 'offOut'> & {
  a: GPUBuffer;
  b: GPUBuffer;
  dtypeB?: OperandDtype;
};

// Writes one operand's gradient (batch, M, N) at batch stride `stride`. Stride 0 means the operand is shared and its
// gradient sums over the batch: one matmul over a stacked K when both factors keep k outermost and batches adjacent
// (e.g. x (batch·T, C) for a weight), else per-batch products in a scratch buffer summed by the sum kernel.
function gradient(
  gpu: Gpu,
  variant: MatmulVariant | undefined,
  dst: GPUBuffer,
  batch: number,
  stride: number,
  g: GradPlan,
): void {
  const plan = { ...g, batch, strideOut: g.M * g.N, dtypeB: g.dtypeB ?? 'f32', offA: 0, offB: 0, offOut: 0 };
  if (stride !== 0 || batch === 1) {
    encode(gpu, variant, dst, g.a, g.b, null, { ...plan, strideOut: stride || plan.strideOut });
  } else if (g.transA && g.strideA === g.K * g.M && !g.transB && g.strideB === g.K * g.N) {
    encode(gpu, variant, dst, g.a, g.b, null, { ...plan, batch: 1, K: batch * g.K });
  } else {
    const scratch = gpu.alloc('matmul gradient per batch', batch * g.M * g.N * 4); // (batch, M, N)
    encode(gpu, variant, scratch, g.a, g.b, null, plan);
    sumForward(gpu, dst, scratch, { outer: 1, axis: batch, inner: g.M * g.N });
    gpu.release(scratch);
  }
}

function checkVariant(where: string, variant: MatmulVariant | undefined): void {
  if (variant !== undefined && !(variant in KERNELS)) {
    throw new ShapeError(
      `${where}: variant, expected one of ${MATMUL_VARIANTS.join(', ')}, got ${String(variant)}`,
    );
  }
}
