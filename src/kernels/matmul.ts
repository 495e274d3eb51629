// Batched matmul: out (batch, M, N) = op(A) · op(B) (+ bias (N) over rows) (+ out when accumulating), where op(A) is
// (M, K) stored either (M, K) or transposed (K, M), and likewise op(B) is (K, N) stored (K, N) or (N, K). A batch
// stride of 0 shares one operand across the batch. Backward is composed from forward matmuls and the sum kernel:
// dA = dOut · op(B)ᵀ, dB = op(A)ᵀ · dOut (in the operand's own storage layout), dBias = Σ dOut over batch and rows.
import type { Gpu, Kernel } from '../gpu/gpu.ts';
import { ShapeError } from '../gpu/errors.ts';
import { sumForward } from './sum.ts';

export interface MatmulDims {
  batch: number;
  M: number;
  N: number;
  K: number;
  transA?: boolean;
  transB?: boolean;
  batchStrideA?: number;
  batchStrideB?: number;
  accumulate?: boolean;
}

export type MatmulVariant = 'naive' | 'register' | 'workgroup';
export const MATMUL_VARIANTS: readonly MatmulVariant[] = ['naive', 'register', 'workgroup'];

// Shared by every variant. out[b, m, n] is at b·strideOut + m·N + n; op(A)[m, k] = A[b·strideA + m·sAm + k·sAk], op(B)[k, n] = B[b·strideB + k·sBk + n·sBn],
// so a transpose is only a pair of strides and each variant is one pipeline.
const HEADER = /* wgsl */ `
struct Dims {
  M: u32, N: u32, K: u32, batch: u32, strideA: u32, strideB: u32, strideOut: u32,
  sAm: u32, sAk: u32, sBk: u32, sBn: u32, accumulate: u32, hasBias: u32,
}
@group(0) @binding(0) var<storage, read_write> out: array<f32>;
@group(0) @binding(1) var<storage, read> A: array<f32>;
@group(0) @binding(2) var<storage, read> B: array<f32>;
@group(0) @binding(3) var<storage, read> bias: array<f32>;
@group(0) @binding(4) var<uniform> u: Dims;

// out = acc (+ bias[n]) (+ the old out); the old value is read only when accumulating (it may be NaN otherwise).
fn store(b: u32, m: u32, n: u32, acc: f32) {
  let i = b * u.strideOut + m * u.N + n;
  var v = acc;
  if (u.hasBias != 0u) { v += bias[n]; }
  if (u.accumulate != 0u) { v += out[i]; }
  out[i] = v;
}
`;

const NAIVE_WG = 16;

export const MATMUL_NAIVE: Kernel = {
  name: 'matmul-naive',
  wgsl: /* wgsl */ `
// Workgroup ${NAIVE_WG}×${NAIVE_WG}; one invocation computes one output out[b, m, n] (x → n, y → m), k ascending.
// Grid-stride loops over the three workgroup dimensions (z → batch) keep any size under the 65535 limit.
// Bindings: out (batch, M, N) written, A, B, bias (N) read.
${HEADER}
@compute @workgroup_size(${NAIVE_WG}, ${NAIVE_WG})
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) groups: vec3u, @builtin(local_invocation_id) lid: vec3u) {
  for (var b = wid.z; b < u.batch; b += groups.z) {
    for (var m = wid.y * ${NAIVE_WG}u + lid.y; m < u.M; m += groups.y * ${NAIVE_WG}u) {
      for (var n = wid.x * ${NAIVE_WG}u + lid.x; n < u.N; n += groups.x * ${NAIVE_WG}u) {
        var pa = b * u.strideA + m * u.sAm;
        var pb = b * u.strideB + n * u.sBn;
        var acc = 0.0;
        for (var k = 0u; k < u.K; k++) {
          acc += A[pa] * B[pb];
          pa += u.sAk;
          pb += u.sBk;
        }
        store(b, m, n, acc);
      }
    }
  }
}
`,
};

// Register tile per invocation (TM rows × TN columns, TN a multiple of 4) and workgroup shape: on SwiftShader the
// work per invocation dominates (PERF-NOTES.md), so the WGSL is unrolled here in TS with one variable per value.
const REG = { TM: 8, TN: 8, WGX: 8, WGY: 8 };

export function registerKernel(TM: number, TN: number, WGX: number, WGY: number): Kernel {
  const rows = [...Array(TM).keys()];
  const cols = [...Array(TN).keys()];
  const quads = [...Array(TN / 4).keys()];
  const ks = [0, 1, 2, 3];
  const lines = (f: (x: number) => string, xs: number[]) => xs.map(f).join('\n');
  const each = (f: (i: number, h: number) => string) =>
    rows.flatMap((i) => quads.map((h) => f(i, h))).join('\n');
  const bQuad = (h: number, kb: string) => `vec4f(${ks.map((c) => `B[rb${4 * h + c} + ${kb}]`).join(', ')})`;
  return {
    name: 'matmul-register',
    wgsl: /* wgsl */ `
// Workgroup ${WGX}×${WGY}, no workgroup memory; one invocation computes a ${TM}×${TN} block of out (x → n, y → m) in
// registers, k ascending, four k per step (then a scalar tail). Rows and columns past M, N are clamped on load
// and skipped on store. Grid-stride loops over tiles (z → batch). Bindings: out (batch, M, N) written, A, B, bias read.
${HEADER}
@compute @workgroup_size(${WGX}, ${WGY})
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) groups: vec3u, @builtin(local_invocation_id) lid: vec3u) {
  for (var b = wid.z; b < u.batch; b += groups.z) {
    for (var mt = wid.y; mt * ${TM * WGY}u < u.M; mt += groups.y) {
      for (var nt = wid.x; nt * ${TN * WGX}u < u.N; nt += groups.x) {
        let m0 = mt * ${TM * WGY}u + lid.y * ${TM}u;
        let n0 = nt * ${TN * WGX}u + lid.x * ${TN}u;
        if (m0 >= u.M || n0 >= u.N) { continue; }
${lines((i) => `        let ra${i} = b * u.strideA + min(m0 + ${i}u, u.M - 1u) * u.sAm;`, rows)}
${lines((j) => `        let rb${j} = b * u.strideB + min(n0 + ${j}u, u.N - 1u) * u.sBn;`, cols)}
${each((i, h) => `        var acc${i}_${h} = vec4f(0.0);`)}
        var k = 0u;
        for (; k + 4u <= u.K; k += 4u) {
${lines((c) => `          let ka${c} = (k + ${c}u) * u.sAk;\n          let kb${c} = (k + ${c}u) * u.sBk;`, ks)}
${lines((i) => `          let a${i} = vec4f(${ks.map((c) => `A[ra${i} + ka${c}]`).join(', ')});`, rows)}
${ks.map((c) => lines((h) => `          let b${c}_${h} = ${bQuad(h, `kb${c}`)};`, quads)).join('\n')}
${each((i, h) => `          acc${i}_${h} += ${ks.map((c) => `a${i}[${c}] * b${c}_${h}`).join(' + ')};`)}
        }
        for (; k < u.K; k++) {
          let ka = k * u.sAk;
          let kb = k * u.sBk;
${lines((h) => `          let b_${h} = ${bQuad(h, 'kb')};`, quads)}
${each((i, h) => `          acc${i}_${h} += A[ra${i} + ka] * b_${h};`)}
        }
${rows.flatMap((i) => cols.map((j) => `        if (m0 + ${i}u < u.M && n0 + ${j}u < u.N) { store(b, m0 + ${i}u, n0 + ${j}u, acc${i}_${j >> 2}[${j & 3}]); }`)).join('\n')}
      }
    }
  }
}
`,
  };
}

export const MATMUL_REGISTER = registerKernel(REG.TM, REG.TN, REG.WGX, REG.WGY);

// Workgroup tile BM×BN, stepping BK along k; T×T invocations, each computing (BM/T)×(BN/T) outputs.
const WGT = { BM: 64, BN: 64, BK: 16, T: 16 };

function workgroupKernel(BM: number, BN: number, BK: number, T: number): Kernel {
  const [RM, RN, threads] = [BM / T, BN / T, T * T];
  const lda = BM + 1; // padded rows keep the transposing tile loads off a single memory bank
  const ldb = BN + 1;
  return {
    name: 'matmul-workgroup',
    wgsl: /* wgsl */ `
// Workgroup ${T}×${T}; the workgroup stages a ${BM}×${BK} tile of op(A) and a ${BK}×${BN} tile of op(B) in workgroup
// memory (zero past M, N, K), then one invocation accumulates ${RM}×${RN} outputs out[m0 + y + ${T}i, n0 + x + ${T}j].
// Tile loads walk the stored contiguous axis across invocations. Grid-stride loops over tiles (z → batch).
// Bindings: out (batch, M, N) written, A, B, bias read.
${HEADER}
var<workgroup> As: array<f32, ${BK * lda}>; // (BK, BM) padded
var<workgroup> Bs: array<f32, ${BK * ldb}>; // (BK, BN) padded

@compute @workgroup_size(${T}, ${T})
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) groups: vec3u,
        @builtin(local_invocation_id) lid: vec3u, @builtin(local_invocation_index) li: u32) {
  for (var b = wid.z; b < u.batch; b += groups.z) {
    for (var mt = wid.y; mt * ${BM}u < u.M; mt += groups.y) {
      for (var nt = wid.x; nt * ${BN}u < u.N; nt += groups.x) {
        let m0 = mt * ${BM}u;
        let n0 = nt * ${BN}u;
        var acc: array<array<f32, ${RN}>, ${RM}>;
        for (var k0 = 0u; k0 < u.K; k0 += ${BK}u) {
          for (var e = li; e < ${BM * BK}u; e += ${threads}u) {
            var mm = e % ${BM}u;
            var kk = e / ${BM}u;
            if (u.sAm != 1u) { mm = e / ${BK}u; kk = e % ${BK}u; }
            let m = m0 + mm;
            let k = k0 + kk;
            var v = 0.0;
            if (m < u.M && k < u.K) { v = A[b * u.strideA + m * u.sAm + k * u.sAk]; }
            As[kk * ${lda}u + mm] = v;
          }
          for (var e = li; e < ${BN * BK}u; e += ${threads}u) {
            var nn = e % ${BN}u;
            var kk = e / ${BN}u;
            if (u.sBn != 1u) { nn = e / ${BK}u; kk = e % ${BK}u; }
            let n = n0 + nn;
            let k = k0 + kk;
            var v = 0.0;
            if (n < u.N && k < u.K) { v = B[b * u.strideB + k * u.sBk + n * u.sBn]; }
            Bs[kk * ${ldb}u + nn] = v;
          }
          workgroupBarrier();
          for (var kk = 0u; kk < ${BK}u; kk++) {
            var bv: array<f32, ${RN}>;
            for (var j = 0u; j < ${RN}u; j++) { bv[j] = Bs[kk * ${ldb}u + lid.x + j * ${T}u]; }
            for (var i = 0u; i < ${RM}u; i++) {
              let av = As[kk * ${lda}u + lid.y + i * ${T}u];
              for (var j = 0u; j < ${RN}u; j++) { acc[i][j] += av * bv[j]; }
            }
          }
          workgroupBarrier();
        }
        for (var i = 0u; i < ${RM}u; i++) {
          for (var j = 0u; j < ${RN}u; j++) {
            let m = m0 + lid.y + i * ${T}u;
            let n = n0 + lid.x + j * ${T}u;
            if (m < u.M && n < u.N) { store(b, m, n, acc[i][j]); }
          }
        }
      }
    }
  }
}
`,
  };
}

export const MATMUL_WORKGROUP = workgroupKernel(WGT.BM, WGT.BN, WGT.BK, WGT.T);

const KERNELS: Record<MatmulVariant, { kernel: Kernel; tileM: number; tileN: number }> = {
  naive: { kernel: MATMUL_NAIVE, tileM: NAIVE_WG, tileN: NAIVE_WG },
  register: { kernel: MATMUL_REGISTER, tileM: REG.TM * REG.WGY, tileN: REG.TN * REG.WGX },
  workgroup: { kernel: MATMUL_WORKGROUP, tileM: WGT.BM, tileN: WGT.BN },
};

/** Register blocking wins on software adapters (SwiftShader); workgroup-memory tiles win on real GPUs. */
export function defaultMatmulVariant(gpu: Gpu): MatmulVariant {
  return gpu.software ? 'workgroup' : 'workgroup'; // TEMP (lead): register variant compile is minutes on SwiftShader
}

/**
 * The variant for one shape when the caller named none: a big tile is wasted when M·N fills only a few of them
 * (e.g. one row of logits, or dhidden = dlogits·wte with M·N tiny and K = V), where one output per invocation
 * spreads the work over far more invocations.
 */
export function pickMatmulVariant(gpu: Gpu, p: { M: number; N: number; batch: number }): MatmulVariant {
  const { tileM, tileN } = KERNELS[defaultMatmulVariant(gpu)];
  const tiles = Math.ceil(p.M / tileM) * Math.ceil(p.N / tileN) * p.batch;
  const fill = (p.M * p.N * p.batch) / (tiles * tileM * tileN);
  return tiles < 16 || fill < 0.5 ? 'naive' : defaultMatmulVariant(gpu);
}

// One fully resolved matmul: out (batch, M, N) at batch stride strideOut = Σ op(A)·op(B).
interface Plan {
  batch: number;
  M: number;
  N: number;
  K: number;
  transA: boolean;
  transB: boolean;
  strideA: number;
  strideB: number;
  strideOut: number;
}

function encode(
  gpu: Gpu,
  requested: MatmulVariant | undefined,
  out: GPUBuffer,
  a: GPUBuffer,
  b: GPUBuffer,
  bias: GPUBuffer | null,
  p: Plan,
  accumulate: boolean,
): void {
  const variant = requested ?? pickMatmulVariant(gpu, p);
  const { kernel, tileM, tileN } = KERNELS[variant];
  const max = gpu.limits.maxComputeWorkgroupsPerDimension;
  const groups: [number, number, number] = [Math.ceil(p.N / tileN), Math.ceil(p.M / tileM), p.batch].map(
    (g) => Math.min(g, max),
  ) as [number, number, number];
  const uniforms = {
    M: p.M,
    N: p.N,
    K: p.K,
    batch: p.batch,
    strideA: p.strideA,
    strideB: p.strideB,
    strideOut: p.strideOut,
    sAm: p.transA ? 1 : p.K,
    sAk: p.transA ? p.M : 1,
    sBk: p.transB ? 1 : p.N,
    sBn: p.transB ? p.K : 1,
    accumulate: accumulate ? 1 : 0,
    hasBias: bias ? 1 : 0,
  };
  // Without a bias, A stands in for the (unread) bias binding.
  gpu.dispatch(kernel, { out, A: a, B: b, bias: bias ?? a }, uniforms, groups);
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
  const p = resolve('matmulForward', gpu, dims, variant);
  checkBuffer(gpu, 'matmulForward', 'out', out, p.batch * p.M * p.N);
  checkOperands(gpu, 'matmulForward', a, b, p);
  if (bias) checkBuffer(gpu, 'matmulForward', 'bias', bias, p.N);
  for (const [name, buf] of [
    ['a', a],
    ['b', b],
    ['bias', bias],
  ] as const) {
    if (buf === out)
      throw new ShapeError(
        `matmulForward: out, expected a buffer distinct from ${name}, got the same buffer`,
      );
  }
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
  const p = resolve('matmulBackward', gpu, dims, variant);
  const { batch, M, N, K, transA, transB, strideA, strideB } = p;
  checkBuffer(gpu, 'matmulBackward', 'dOut', dOut, batch * M * N);
  checkOperands(gpu, 'matmulBackward', a, b, p);
  const grads = [
    ['dA', dA],
    ['dB', dB],
    ['dBias', dBias],
  ] as const;
  for (const [name, g] of grads) {
    for (const [other, buf] of [
      ['dOut', dOut],
      ['a', a],
      ['b', b],
    ] as const) {
      if (g && g === buf)
        throw new ShapeError(
          `matmulBackward: ${name}, expected a buffer distinct from ${other}, got the same buffer`,
        );
    }
  }
  const MN = M * N;
  if (dA) {
    checkBuffer(gpu, 'matmulBackward', 'dA', dA, strideA === 0 ? M * K : (batch - 1) * strideA + M * K);
    // dA = dOut · op(B)ᵀ, or op(B) · dOutᵀ when A is stored transposed (K, M).
    const plan = transA
      ? { M: K, N: M, K: N, a: b, transA: transB, strideA: strideB, b: dOut, transB: true, strideB: MN }
      : { M, N: K, K: N, a: dOut, transA: false, strideA: MN, b, transB: !transB, strideB };
    gradient(gpu, variant, dA, batch, strideA, plan);
  }
  if (dB) {
    checkBuffer(gpu, 'matmulBackward', 'dB', dB, strideB === 0 ? K * N : (batch - 1) * strideB + K * N);
    // dB = op(A)ᵀ · dOut, or dOutᵀ · op(A) when B is stored transposed (N, K).
    const plan = transB
      ? { M: N, N: K, K: M, a: dOut, transA: true, strideA: MN, b: a, transB: transA, strideB: strideA }
      : { M: K, N, K: M, a, transA: !transA, strideA, b: dOut, transB: false, strideB: MN };
    gradient(gpu, variant, dB, batch, strideB, plan);
  }
  if (dBias) {
    checkBuffer(gpu, 'matmulBackward', 'dBias', dBias, N);
    sumForward(gpu, dBias, dOut, { outer: 1, axis: batch * M, inner: N });
  }
}

interface GradPlan {
  M: number;
  N: number;
  K: number;
  a: GPUBuffer;
  transA: boolean;
  strideA: number;
  b: GPUBuffer;
  transB: boolean;
  strideB: number;
}

// Writes one operand's gradient (batch, M, N) at batch stride `stride`; stride 0 means the operand is shared, so its
// gradient is the sum over the batch: one matmul over a stacked K when both factors stack along K contiguously
// (k outermost in storage), else per-batch products in a scratch buffer summed by the sum kernel in a fixed order.
function gradient(
  gpu: Gpu,
  variant: MatmulVariant | undefined,
  dst: GPUBuffer,
  batch: number,
  stride: number,
  g: GradPlan,
): void {
  const plan = { ...g, batch, transA: g.transA, transB: g.transB, strideOut: g.M * g.N };
  if (stride !== 0 || batch === 1) {
    encode(gpu, variant, dst, g.a, g.b, null, { ...plan, strideOut: stride || plan.strideOut }, false);
    return;
  }
  if (g.transA && g.strideA === g.K * g.M && !g.transB && g.strideB === g.K * g.N) {
    encode(gpu, variant, dst, g.a, g.b, null, { ...plan, batch: 1, K: batch * g.K }, false);
    return;
  }
  const scratch = gpu.alloc('matmul gradient per batch', batch * g.M * g.N * 4); // (batch, M, N)
  encode(gpu, variant, scratch, g.a, g.b, null, plan, false);
  sumForward(gpu, dst, scratch, { outer: 1, axis: batch, inner: g.M * g.N });
  gpu.release(scratch);
}

function resolve(where: string, gpu: Gpu, dims: MatmulDims, variant: MatmulVariant | undefined): Plan {
  if (variant !== undefined && !(variant in KERNELS)) {
    throw new ShapeError(
      `${where}: variant, expected one of ${MATMUL_VARIANTS.join(', ')}, got ${String(variant)}`,
    );
  }
  for (const key of ['batch', 'M', 'N', 'K'] as const) {
    const v = dims[key];
    if (!Number.isInteger(v) || v < 1)
      throw new ShapeError(`${where}: dims.${key}, expected an integer ≥ 1, got ${v}`);
  }
  const { batch, M, N, K } = dims;
  const strideA = dims.batchStrideA ?? M * K;
  const strideB = dims.batchStrideB ?? K * N;
  for (const [key, v, size] of [
    ['batchStrideA', strideA, M * K],
    ['batchStrideB', strideB, K * N],
  ] as const) {
    // Overlapping batches would make the gradient writes race.
    if (!Number.isInteger(v) || (v !== 0 && v < size)) {
      throw new ShapeError(
        `${where}: dims.${key}, expected 0 or an integer ≥ ${size} (one matrix), got ${v}`,
      );
    }
  }
  const largest = Math.max(batch * M * N, (batch - 1) * strideA + M * K, (batch - 1) * strideB + K * N);
  if (largest >= 2 ** 32)
    throw new ShapeError(`${where}: largest operand, expected < 2^32 elements (u32 indices), got ${largest}`);
  void gpu;
  return {
    batch,
    M,
    N,
    K,
    transA: dims.transA ?? false,
    transB: dims.transB ?? false,
    strideA,
    strideB,
    strideOut: M * N,
  };
}

function checkOperands(gpu: Gpu, where: string, a: GPUBuffer, b: GPUBuffer, p: Plan): void {
  checkBuffer(gpu, where, 'a', a, p.strideA === 0 ? p.M * p.K : (p.batch - 1) * p.strideA + p.M * p.K);
  checkBuffer(gpu, where, 'b', b, p.strideB === 0 ? p.K * p.N : (p.batch - 1) * p.strideB + p.K * p.N);
}

function checkBuffer(gpu: Gpu, where: string, name: string, buf: GPUBuffer, count: number): void {
  const bytes = gpu.pool.meta(buf)?.bytes ?? buf.size;
  if (bytes < count * 4) {
    throw new ShapeError(
      `${where}: ${name} size, expected at least ${count * 4} bytes (${count} f32), got ${bytes}`,
    );
  }
}
