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

// Shared by every variant: out[b, m, n] is at b·strideOut + m·N + n, op(A)[m, k] = A[b·strideA + m·sAm + k·sAk] and
// op(B)[k, n] = B[b·strideB + k·sBk + n·sBn], so a transpose is only a pair of strides (one pipeline per variant).
// Workgroup (x, y, z) covers tile (tileN0 + x, tileM0 + y) of batch batch0 + z: large sizes take several dispatches.
// (SwiftShader took minutes to compile the register kernel inside a grid-stride loop, so there is none.)
const HEADER = /* wgsl */ `
struct Dims {
  M: u32, N: u32, K: u32, strideA: u32, strideB: u32, strideOut: u32, sAm: u32, sAk: u32, sBk: u32, sBn: u32,
  accumulate: u32, hasBias: u32, batch0: u32, tileM0: u32, tileN0: u32,
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
// Bindings: out (batch, M, N) written, A, B, bias (N) read.
${HEADER}
@compute @workgroup_size(${NAIVE_WG}, ${NAIVE_WG})
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_id) lid: vec3u) {
  let b = u.batch0 + wid.z;
  let m = (u.tileM0 + wid.y) * ${NAIVE_WG}u + lid.y;
  let n = (u.tileN0 + wid.x) * ${NAIVE_WG}u + lid.x;
  if (m >= u.M || n >= u.N) { return; }
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
`,
};

// Register tile per invocation (TM rows × TN columns, TN a multiple of 4) and workgroup shape: on SwiftShader the
// work per invocation dominates (PERF-NOTES.md), so the k loop is unrolled here in TS, one variable per value.
const REG = { TM: 8, TN: 8, WGX: 8, WGY: 8 };

export function registerKernel(TM: number, TN: number, WGX: number, WGY: number): Kernel {
  const [rows, cols, quads, ks] = [TM, TN, TN / 4, 4].map((n) => [...Array(n).keys()]);
  const each = (f: (i: number, h: number) => string) =>
    rows.flatMap((i) => quads.map((h) => f(i, h))).join('\n');
  const bQuad = (h: number, kb: string) => `vec4f(${ks.map((c) => `B[rb${4 * h + c} + ${kb}]`).join(', ')})`;
  return {
    name: 'matmul-register',
    wgsl: /* wgsl */ `
// Workgroup ${WGX}×${WGY}, no workgroup memory; one invocation computes a ${TM}×${TN} block of out (x → n, y → m) in
// registers, k ascending, four k per step, then a scalar tail. Rows and columns past M, N are clamped on load and
// skipped on store. Bindings: out (batch, M, N) written, A, B, bias (N) read.
${HEADER}
@compute @workgroup_size(${WGX}, ${WGY})
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_id) lid: vec3u) {
  let b = u.batch0 + wid.z;
  let m0 = ((u.tileM0 + wid.y) * ${WGY}u + lid.y) * ${TM}u;
  let n0 = ((u.tileN0 + wid.x) * ${WGX}u + lid.x) * ${TN}u;
  if (m0 >= u.M || n0 >= u.N) { return; }
${rows.map((i) => `  let ra${i} = b * u.strideA + min(m0 + ${i}u, u.M - 1u) * u.sAm;`).join('\n')}
${cols.map((j) => `  let rb${j} = b * u.strideB + min(n0 + ${j}u, u.N - 1u) * u.sBn;`).join('\n')}
${each((i, h) => `  var acc${i}_${h} = vec4f(0.0);`)}
  var k = 0u;
  for (; k + 4u <= u.K; k += 4u) {
${ks.map((c) => `    let ka${c} = (k + ${c}u) * u.sAk;\n    let kb${c} = (k + ${c}u) * u.sBk;`).join('\n')}
${rows.map((i) => `    let a${i} = vec4f(${ks.map((c) => `A[ra${i} + ka${c}]`).join(', ')});`).join('\n')}
${ks.flatMap((c) => quads.map((h) => `    let b${c}_${h} = ${bQuad(h, `kb${c}`)};`)).join('\n')}
${each((i, h) => `    acc${i}_${h} += ${ks.map((c) => `a${i}[${c}] * b${c}_${h}`).join(' + ')};`)}
  }
  for (; k < u.K; k++) {
    let ka = k * u.sAk;
    let kb = k * u.sBk;
${quads.map((h) => `    let b_${h} = ${bQuad(h, 'kb')};`).join('\n')}
${each((i, h) => `    acc${i}_${h} += A[ra${i} + ka] * b_${h};`)}
  }
  let acc = array<vec4f, ${TM * quads.length}>(${rows.flatMap((i) => quads.map((h) => `acc${i}_${h}`)).join(', ')});
  for (var i = 0u; i < min(${TM}u, u.M - m0); i++) {
    for (var j = 0u; j < min(${TN}u, u.N - n0); j++) { store(b, m0 + i, n0 + j, acc[i * ${quads.length}u + j / 4u][j % 4u]); }
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
  const [lda, ldb] = [BM + 1, BN + 1]; // padded rows keep the transposing tile stores off a single memory bank
  return {
    name: 'matmul-workgroup',
    wgsl: /* wgsl */ `
// Workgroup ${T}×${T}; it stages a ${BM}×${BK} tile of op(A) and a ${BK}×${BN} tile of op(B) in workgroup memory (zero
// past M, N, K), read along the stored contiguous axis, then one invocation accumulates ${RM}×${RN} outputs
// out[m0 + y + ${T}i, n0 + x + ${T}j], k ascending. Bindings: out (batch, M, N) written, A, B, bias (N) read.
${HEADER}
var<workgroup> As: array<f32, ${BK * lda}>; // (BK, BM) padded
var<workgroup> Bs: array<f32, ${BK * ldb}>; // (BK, BN) padded

@compute @workgroup_size(${T}, ${T})
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_id) lid: vec3u, @builtin(local_invocation_index) li: u32) {
  let b = u.batch0 + wid.z;
  let m0 = (u.tileM0 + wid.y) * ${BM}u;
  let n0 = (u.tileN0 + wid.x) * ${BN}u;
  var acc: array<array<f32, ${RN}>, ${RM}>;
  for (var k0 = 0u; k0 < u.K; k0 += ${BK}u) {
    for (var e = li; e < ${BM * BK}u; e += ${threads}u) {
      let along = u.sAm == 1u; // A stored transposed: m contiguous
      let mm = select(e / ${BK}u, e % ${BM}u, along);
      let kk = select(e % ${BK}u, e / ${BM}u, along);
      let inside = m0 + mm < u.M && k0 + kk < u.K;
      As[kk * ${lda}u + mm] = select(0.0, A[b * u.strideA + (m0 + mm) * u.sAm + (k0 + kk) * u.sAk], inside);
    }
    for (var e = li; e < ${BN * BK}u; e += ${threads}u) {
      let along = u.sBn == 1u; // B stored as (K, N): n contiguous
      let nn = select(e / ${BK}u, e % ${BN}u, along);
      let kk = select(e % ${BK}u, e / ${BN}u, along);
      let inside = n0 + nn < u.N && k0 + kk < u.K;
      Bs[kk * ${ldb}u + nn] = select(0.0, B[b * u.strideB + (k0 + kk) * u.sBk + (n0 + nn) * u.sBn], inside);
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
  return gpu.software ? 'register' : 'workgroup';
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

// One resolved product: out (batch, M, N) at batch stride strideOut = op(A)·op(B) per batch.
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
  variant: MatmulVariant | undefined,
  out: GPUBuffer,
  a: GPUBuffer,
  b: GPUBuffer,
  bias: GPUBuffer | null,
  p: Plan,
  accumulate = false,
): void {
  const { kernel, tileM, tileN } = KERNELS[variant ?? pickMatmulVariant(gpu, p)];
  const { M, N, K, transA, transB } = p;
  const strides = { strideA: p.strideA, strideB: p.strideB, strideOut: p.strideOut };
  const layout = { sAm: transA ? 1 : K, sAk: transA ? M : 1, sBk: transB ? 1 : N, sBn: transB ? K : 1 };
  const flags = { accumulate: accumulate ? 1 : 0, hasBias: bias ? 1 : 0 };
  const buffers = { out, A: a, B: b, bias: bias ?? a }; // without a bias, A fills the (unread) binding
  const [nx, ny, nz] = [Math.ceil(N / tileN), Math.ceil(M / tileM), p.batch];
  const max = gpu.limits.maxComputeWorkgroupsPerDimension;
  for (let batch0 = 0; batch0 < nz; batch0 += max) {
    for (let tileM0 = 0; tileM0 < ny; tileM0 += max) {
      for (let tileN0 = 0; tileN0 < nx; tileN0 += max) {
        const uniforms = { M, N, K, ...strides, ...layout, ...flags, batch0, tileM0, tileN0 };
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

export function matmulForward(
  gpu: Gpu,
  out: GPUBuffer,
  a: GPUBuffer,
  b: GPUBuffer,
  bias: GPUBuffer | null,
  dims: MatmulDims,
  variant?: MatmulVariant,
): void {
  const p = resolve('matmulForward', dims, variant);
  checkBuffer(gpu, 'matmulForward', 'out', out, p.batch * p.M * p.N);
  checkBuffer(gpu, 'matmulForward', 'a', a, span(p.batch, p.strideA, p.M * p.K));
  checkBuffer(gpu, 'matmulForward', 'b', b, span(p.batch, p.strideB, p.K * p.N));
  if (bias) checkBuffer(gpu, 'matmulForward', 'bias', bias, p.N);
  checkDistinct('matmulForward', { out }, { a, b, bias });
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
  const { batch, M, N, K, transA, transB, strideA, strideB } = resolve('matmulBackward', dims, variant);
  checkBuffer(gpu, 'matmulBackward', 'dOut', dOut, batch * M * N);
  checkBuffer(gpu, 'matmulBackward', 'a', a, span(batch, strideA, M * K));
  checkBuffer(gpu, 'matmulBackward', 'b', b, span(batch, strideB, K * N));
  checkDistinct('matmulBackward', { dA, dB, dBias }, { dOut, a, b });
  const MN = M * N;
  if (dA) {
    checkBuffer(gpu, 'matmulBackward', 'dA', dA, span(batch, strideA, M * K));
    // dA = dOut · op(B)ᵀ, or op(B) · dOutᵀ when A is stored transposed (K, M).
    const g = transA
      ? { M: K, N: M, K: N, a: b, transA: transB, strideA: strideB, b: dOut, transB: true, strideB: MN }
      : { M, N: K, K: N, a: dOut, transA: false, strideA: MN, b, transB: !transB, strideB };
    gradient(gpu, variant, dA, batch, strideA, g);
  }
  if (dB) {
    checkBuffer(gpu, 'matmulBackward', 'dB', dB, span(batch, strideB, K * N));
    // dB = op(A)ᵀ · dOut, or dOutᵀ · op(A) when B is stored transposed (N, K).
    const g = transB
      ? { M: N, N: K, K: M, a: dOut, transA: true, strideA: MN, b: a, transB: transA, strideB: strideA }
      : { M: K, N, K: M, a, transA: !transA, strideA, b: dOut, transB: false, strideB: MN };
    gradient(gpu, variant, dB, batch, strideB, g);
  }
  if (dBias) {
    checkBuffer(gpu, 'matmulBackward', 'dBias', dBias, N);
    sumForward(gpu, dBias, dOut, { outer: 1, axis: batch * M, inner: N });
  }
}

type GradPlan = Omit<Plan, 'batch' | 'strideOut'> & { a: GPUBuffer; b: GPUBuffer };

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
  const plan = { ...g, batch, strideOut: g.M * g.N };
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

function resolve(where: string, dims: MatmulDims, variant: MatmulVariant | undefined): Plan {
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
  const [strideA, strideB] = [dims.batchStrideA ?? M * K, dims.batchStrideB ?? K * N];
  // Overlapping batches would make the gradient writes race.
  for (const [key, v, size] of [
    ['batchStrideA', strideA, M * K],
    ['batchStrideB', strideB, K * N],
  ] as const) {
    if (!Number.isInteger(v) || (v !== 0 && v < size)) {
      throw new ShapeError(
        `${where}: dims.${key}, expected 0 or an integer ≥ ${size} (one matrix), got ${v}`,
      );
    }
  }
  const largest = Math.max(batch * M * N, span(batch, strideA, M * K), span(batch, strideB, K * N));
  if (largest >= 2 ** 32)
    throw new ShapeError(`${where}: largest operand, expected < 2^32 elements, got ${largest}`);
  const [transA, transB] = [dims.transA ?? false, dims.transB ?? false];
  return { batch, M, N, K, transA, transB, strideA, strideB, strideOut: M * N };
}

/** Elements spanned by `batch` matrices of `matrix` elements, `stride` apart (0: one shared matrix). */
function span(batch: number, stride: number, matrix: number): number {
  return stride === 0 ? matrix : (batch - 1) * stride + matrix;
}

function checkDistinct(
  where: string,
  outputs: Record<string, GPUBuffer | null>,
  inputs: Record<string, GPUBuffer | null>,
): void {
  for (const [name, buf] of Object.entries(outputs)) {
    const same = Object.entries(inputs).find(([, other]) => buf && buf === other);
    if (same)
      throw new ShapeError(
        `${where}: ${name}, expected a buffer distinct from ${same[0]}, got the same buffer`,
      );
  }
}

function checkBuffer(gpu: Gpu, where: string, name: string, buf: GPUBuffer, count: number): void {
  const bytes = gpu.pool.meta(buf)?.bytes ?? buf.size;
  if (bytes < count * 4) {
    throw new ShapeError(
      `${where}: ${name} size, expected at least ${count * 4} bytes (${count} f32), got ${bytes}`,
    );
  }
}
