// WGSL for the three matmul variants (dispatch, shapes and math in matmul.ts): one output per invocation (the
// baseline), a register-blocked tile per invocation without workgroup memory (fast on SwiftShader), and workgroup-
// memory tiles with a register tile per invocation (fast on real GPUs). Tile shapes are parameters; sizes are uniforms.
import type { Kernel, Uniforms } from '../gpu/gpu.ts';
import type { HalfDtype } from '../util/half.ts';
import {
  dtypeSuffix,
  operandDeclaration,
  operandLoad,
  operandWords,
  type OperandDtype,
} from './half-wgsl.ts';

export type { OperandDtype };

const loadB = (dtype: OperandDtype) => (i: string) => operandLoad('B', dtype, i);
const suffix = dtypeSuffix;

// Shared by every variant: out[b, m, n] is at b·strideOut + m·ldOut + n (ldOut = N unless a block of columns), op(A)[m, k] = A[b·strideA + m·sAm + k·sAk] and
// op(B)[k, n] = B[b·strideB + k·sBk + n·sBn] (each plus an element offset offA, offB, offOut), so a transpose is only a pair of strides (one pipeline per variant).
// Large sizes take several dispatches of at most 65535 workgroups per dimension, offset by tileN0, tileM0, batch0
// (no grid-stride loop: SwiftShader took minutes to compile the register kernel inside one).
const header = (dtype: OperandDtype) => /* wgsl */ `
struct Dims {
  M: u32, N: u32, K: u32, strideA: u32, strideB: u32, strideOut: u32, sAm: u32, sAk: u32, sBk: u32, sBn: u32,
  accumulate: u32, hasBias: u32, batch0: u32, tileM0: u32, tileN0: u32, offA: u32, offB: u32, offOut: u32,
  ldOut: u32, offBias: u32, batch: u32,
}
@group(0) @binding(0) var<storage, read_write> out: array<f32>;
@group(0) @binding(1) var<storage, read> A: array<f32>;
${operandDeclaration('B', 2, dtype)}
@group(0) @binding(3) var<storage, read> bias: array<f32>;
@group(0) @binding(4) var<uniform> u: Dims;

// out = acc (+ bias[n]) (+ the old out); the old value is read only when accumulating (it may be NaN otherwise).
fn store(b: u32, m: u32, n: u32, acc: f32) {
  let i = u.offOut + b * u.strideOut + m * u.ldOut + n;
  var v = acc;
  if (u.hasBias != 0u) { v += bias[u.offBias + n]; }
  if (u.accumulate != 0u) { v += out[i]; }
  out[i] = v;
}

// (n tile, m tile, batch) of this workgroup.
fn tile(wid: vec3u) -> vec3u { return wid + vec3u(u.tileN0, u.tileM0, u.batch0); }
`;

// The elements each binding spans, one past the last the kernel touches (B in u32 words), for gpu.dispatch to check.
const sizes =
  (dtype: OperandDtype) =>
  ({ batch, M, N, K, ...u }: Uniforms): Record<string, number> => ({
    out: u.offOut + (batch - 1) * u.strideOut + (M - 1) * u.ldOut + N,
    A: u.offA + (batch - 1) * u.strideA + (M - 1) * u.sAm + (K - 1) * u.sAk + 1,
    B: operandWords(dtype, u.offB + (batch - 1) * u.strideB + (K - 1) * u.sBk + (N - 1) * u.sBn + 1),
    bias: u.hasBias ? u.offBias + N : 0,
  });

export const NAIVE_WG = 16;

const naiveKernel = (dtype: OperandDtype): Kernel => ({
  name: `matmul-naive${suffix(dtype)}`,
  wgsl: /* wgsl */ `
// Workgroup ${NAIVE_WG}×${NAIVE_WG}; one invocation computes one output out[b, m, n] (x → n, y → m), k ascending.
// Bindings: out (batch, M, N) written, A, B, bias (N) read.
${header(dtype)}
@compute @workgroup_size(${NAIVE_WG}, ${NAIVE_WG})
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_id) lid: vec3u) {
  let t = tile(wid);
  let b = t.z;
  let m = t.y * ${NAIVE_WG}u + lid.y;
  let n = t.x * ${NAIVE_WG}u + lid.x;
  if (m >= u.M || n >= u.N) { return; }
  var pa = u.offA + b * u.strideA + m * u.sAm;
  var pb = u.offB + b * u.strideB + n * u.sBn;
  var acc = 0.0;
  for (var k = 0u; k < u.K; k++) {
    acc += A[pa] * ${loadB(dtype)('pb')};
    pa += u.sAk;
    pb += u.sBk;
  }
  store(b, m, n, acc);
}
`,
  sizes: sizes(dtype),
});

export const MATMUL_NAIVE = naiveKernel('f32');

// Register tile per invocation (TM rows × TN columns, TN a multiple of 4) and workgroup shape: on SwiftShader the
// work per invocation dominates (PERF-NOTES.md), so the k loop is unrolled here in TS, one variable per value.
// Every load from a storage buffer is a per-lane gather there, so the loads per multiply-add set the speed; fma()
// rather than a * b + c measured 1.1-1.2× faster (one instruction, and one rounding per k).
export const REG = { TM: 8, TN: 8, WGX: 8, WGY: 8 };
// The subgroup form: a workgroup is one subgroup of SG lanes side by side along n, sharing their TM rows of A; lane c
// loads A at k + c and the others take it by subgroupBroadcast, so A costs TM/SG loads per k instead of TM.
export const SUB = { TM: 16, TN: 8, SG: 4 };

function registerKernel(
  TM: number,
  TN: number,
  WGX: number,
  WGY: number,
  subgroup = false,
  dtype: OperandDtype = 'f32',
): Kernel {
  const [rows, cols, quads, ks] = [TM, TN, TN / 4, 4].map((n) => [...Array(n).keys()]);
  const each = (f: (i: number, h: number) => string) =>
    rows.flatMap((i) => quads.map((h) => f(i, h))).join('\n');
  const bQuad = (h: number, kb: string) =>
    `vec4f(${ks.map((c) => loadB(dtype)(`rb${4 * h + c} + ${kb}`)).join(', ')})`;
  const aQuad = (i: number) =>
    subgroup
      ? `vec4f(${ks.map((c) => `subgroupBroadcast(v${i}, ${c}u)`).join(', ')})`
      : `vec4f(${ks.map((c) => `A[ra${i} + ka${c}]`).join(', ')})`;
  // The subgroup form keeps every lane running to the end (broadcasts need all lanes) and clamps instead.
  const [m0, n0] = subgroup
    ? [`t.y * ${TM}u`, `(t.x * ${SUB.SG}u + lane) * ${TN}u`]
    : [`(t.y * ${WGY}u + lid.y) * ${TM}u`, `(t.x * ${WGX}u + lid.x) * ${TN}u`];
  const outside = '  if (m0 >= u.M || n0 >= u.N) { return; }';
  return {
    name: `${subgroup ? 'matmul-subgroup' : 'matmul-register'}${suffix(dtype)}`,
    wgsl: /* wgsl */ `${subgroup ? 'enable subgroups;\n' : ''}
// Workgroup ${subgroup ? `of one ${SUB.SG}-lane subgroup` : `${WGX}×${WGY}`}, no workgroup memory; one invocation computes a ${TM}×${TN} block of out (x → n, y → m)
// in registers, k ascending, four k per step, then a scalar tail. Rows and columns past M, N are clamped on load and
// skipped on store. Bindings: out (batch, M, N) written, A, B, bias (N) read.
${header(dtype)}
@compute @workgroup_size(${subgroup ? SUB.SG : `${WGX}, ${WGY}`})
fn main(@builtin(workgroup_id) wid: vec3u, ${subgroup ? '@builtin(subgroup_invocation_id) lane: u32' : '@builtin(local_invocation_id) lid: vec3u'}) {
  let t = tile(wid);
  let b = t.z;
  let m0 = ${m0};
  let n0 = ${n0};
${subgroup ? '' : outside}
${rows.map((i) => `  let ra${i} = u.offA + b * u.strideA + min(m0 + ${i}u, u.M - 1u) * u.sAm;`).join('\n')}
${cols.map((j) => `  let rb${j} = u.offB + b * u.strideB + min(n0 + ${j}u, u.N - 1u) * u.sBn;`).join('\n')}
${each((i, h) => `  var acc${i}_${h} = vec4f(0.0);`)}
  var k = 0u;
  for (; k + 4u <= u.K; k += 4u) {
${ks.map((c) => `    let ka${c} = (k + ${c}u) * u.sAk;\n    let kb${c} = (k + ${c}u) * u.sBk;`).join('\n')}
${subgroup ? `    let kl = (k + lane) * u.sAk;\n${rows.map((i) => `    let v${i} = A[ra${i} + kl];`).join('\n')}` : ''}
${rows.map((i) => `    let a${i} = ${aQuad(i)};`).join('\n')}
${ks.flatMap((c) => quads.map((h) => `    let b${c}_${h} = ${bQuad(h, `kb${c}`)};`)).join('\n')}
${each((i, h) => ks.map((c) => `    acc${i}_${h} = fma(vec4f(a${i}[${c}]), b${c}_${h}, acc${i}_${h});`).join('\n'))}
  }
  for (; k < u.K; k++) {
    let ka = k * u.sAk;
    let kb = k * u.sBk;
${quads.map((h) => `    let b_${h} = ${bQuad(h, 'kb')};`).join('\n')}
${each((i, h) => `    acc${i}_${h} = fma(vec4f(A[ra${i} + ka]), b_${h}, acc${i}_${h});`)}
  }
${subgroup ? outside : ''}
  let acc = array<vec4f, ${TM * quads.length}>(${rows.flatMap((i) => quads.map((h) => `acc${i}_${h}`)).join(', ')});
  for (var i = 0u; i < min(${TM}u, u.M - m0); i++) {
    for (var j = 0u; j < min(${TN}u, u.N - n0); j++) { store(b, m0 + i, n0 + j, acc[i * ${quads.length}u + j / 4u][j % 4u]); }
  }
}
`,
    sizes: sizes(dtype),
  };
}

export const MATMUL_REGISTER = registerKernel(REG.TM, REG.TN, REG.WGX, REG.WGY);
export const MATMUL_SUBGROUP = registerKernel(SUB.TM, SUB.TN, 1, 1, true);

// Workgroup tile BM×BN, stepping BK along k; T×T invocations, each computing (BM/T)×(BN/T) outputs.
export const WGT = { BM: 64, BN: 64, BK: 16, T: 16 };

function workgroupKernel(BM: number, BN: number, BK: number, T: number, dtype: OperandDtype = 'f32'): Kernel {
  const [rows, quads] = [BM / T, BN / T / 4].map((n) => [...Array(n).keys()]); // per invocation: rows × 4·quads
  const [lda, ldb] = [BM + 1, BN + 1]; // padded rows keep the transposing tile stores off a single memory bank
  const each = (f: (i: number, h: number) => string) =>
    rows.flatMap((i) => quads.map((h) => f(i, h))).join('\n');
  const bQuad = (h: number) =>
    `vec4f(${[0, 1, 2, 3].map((c) => `Bs[o + lid.x + ${(4 * h + c) * T}u]`).join(', ')})`;
  return {
    name: `matmul-workgroup${suffix(dtype)}`,
    wgsl: /* wgsl */ `
// Workgroup ${T}×${T}; it stages a ${BM}×${BK} tile of op(A) and a ${BK}×${BN} tile of op(B) in workgroup memory (zero
// past M, N, K), read along the stored contiguous axis, then one invocation accumulates ${rows.length}×${4 * quads.length} outputs
// out[m0 + y + ${T}i, n0 + x + ${T}j], k ascending. Bindings: out (batch, M, N) written, A, B, bias (N) read.
${header(dtype)}
var<workgroup> As: array<f32, ${BK * lda}>; // (BK, BM) padded
var<workgroup> Bs: array<f32, ${BK * ldb}>; // (BK, BN) padded

@compute @workgroup_size(${T}, ${T})
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_id) lid: vec3u, @builtin(local_invocation_index) li: u32) {
  let t = tile(wid);
  let b = t.z;
  let m0 = t.y * ${BM}u;
  let n0 = t.x * ${BN}u;
${each((i, h) => `  var acc${i}_${h} = vec4f(0.0);`)}
  for (var k0 = 0u; k0 < u.K; k0 += ${BK}u) {
    for (var e = li; e < ${BM * BK}u; e += ${T * T}u) {
      let along = u.sAm == 1u; // A stored transposed: m contiguous
      let mm = select(e / ${BK}u, e % ${BM}u, along);
      let kk = select(e % ${BK}u, e / ${BM}u, along);
      var v = 0.0;
      if (m0 + mm < u.M && k0 + kk < u.K) { v = A[u.offA + b * u.strideA + (m0 + mm) * u.sAm + (k0 + kk) * u.sAk]; }
      As[kk * ${lda}u + mm] = v;
    }
    for (var e = li; e < ${BN * BK}u; e += ${T * T}u) {
      let along = u.sBn == 1u; // B stored as (K, N): n contiguous
      let nn = select(e / ${BK}u, e % ${BN}u, along);
      let kk = select(e % ${BK}u, e / ${BN}u, along);
      var v = 0.0;
      if (n0 + nn < u.N && k0 + kk < u.K) { v = ${loadB(dtype)('u.offB + b * u.strideB + (k0 + kk) * u.sBk + (n0 + nn) * u.sBn')}; }
      Bs[kk * ${ldb}u + nn] = v;
    }
    workgroupBarrier();
    for (var kk = 0u; kk < ${BK}u; kk++) {
      let o = kk * ${ldb}u;
      let p = kk * ${lda}u + lid.y;
${quads.map((h) => `      let b${h} = ${bQuad(h)};`).join('\n')}
${rows.map((i) => `      let a${i} = As[p + ${i * T}u];`).join('\n')}
${each((i, h) => `      acc${i}_${h} += a${i} * b${h};`)}
    }
    workgroupBarrier();
  }
${each((i, h) => [0, 1, 2, 3].map((c) => `  if (m0 + lid.y + ${i * T}u < u.M && n0 + lid.x + ${(4 * h + c) * T}u < u.N) { store(b, m0 + lid.y + ${i * T}u, n0 + lid.x + ${(4 * h + c) * T}u, acc${i}_${h}[${c}]); }`).join('\n'))}
}
`,
    sizes: sizes(dtype),
  };
}

export const MATMUL_WORKGROUP = workgroupKernel(WGT.BM, WGT.BN, WGT.BK, WGT.T);

/** The four variants reading B as 16-bit floats (a frozen weight): the same kernels, one more pipeline each. */
export const MATMUL_HALF: Record<
  HalfDtype,
  Record<'naive' | 'register' | 'subgroup' | 'workgroup', Kernel>
> = {
  f16: halfKernels('f16'),
  bf16: halfKernels('bf16'),
};

function halfKernels(dtype: HalfDtype) {
  return {
    naive: naiveKernel(dtype),
    register: registerKernel(REG.TM, REG.TN, REG.WGX, REG.WGY, false, dtype),
    subgroup: registerKernel(SUB.TM, SUB.TN, 1, 1, true, dtype),
    workgroup: workgroupKernel(WGT.BM, WGT.BN, WGT.BK, WGT.T, dtype),
  };
}
