// The WGSL every row kernel shares (layernorm, rmsnorm, softmax, cross-entropy, attention, grad-norm, lm-head-loss):
// the fixed-order workgroup tree sum, the row index on rows.ts's grids, one row-kernel entry point in two shapes
// (a workgroup per row, or an invocation per short row) so a body is written once, the chunked column sums of the
// norms' parameter gradients, and the float constants of the online softmaxes.
import type { RowShape } from './rows.ts';

/**
 * `reduce_sum(v, lid)`: Σ v over a workgroup of `wg` (a power of two) by a fixed-order tree; every invocation gets the
 * result, and it may be called again at once (the trailing barrier keeps the next call off `partial`).
 */
export function treeSumWgsl(wg: number): string {
  return /* wgsl */ `
var<workgroup> partial: array<f32, ${wg}>;

fn reduce_sum(v: f32, lid: u32) -> f32 {
  partial[lid] = v;
  for (var half = ${wg / 2}u; half > 0u; half >>= 1u) {
    workgroupBarrier();
    if (lid < half) { partial[lid] = partial[lid] + partial[lid + half]; }
  }
  workgroupBarrier();
  let r = partial[0];
  workgroupBarrier(); // a later reduction overwrites partial
  return r;
}
`;
}

/** `row_of(gid, groups)`: the row of a one-invocation-per-row kernel of workgroup `wg` on shortRowGrid's grid. */
export function rowOfWgsl(wg: number): string {
  return /* wgsl */ `
fn row_of(gid: vec3u, groups: vec3u) -> u32 { return gid.y * groups.x * ${wg}u + gid.x; }
`;
}

/**
 * A row kernel's declarations and the head of its entry point, in one of two shapes, so that one body serves both:
 * - 'workgroup': one row per workgroup of `wg` on rowGrid's grid; invocation `lid` owns columns lid, lid + STRIDE, ...
 *   and reduce_sum is the tree above (the early return is uniform over the workgroup, so barriers stay uniform);
 * - 'short': one row per invocation on shortRowGrid(·, wg)'s grid, `lid` = 0, STRIDE = 1 (columns in order) and
 *   reduce_sum the identity.
 * The body sees `row` (< rows, a WGSL expression such as `u.N`) and closes main's brace.
 */
export function rowMainWgsl(shape: RowShape, wg: number, rows: string): string {
  if (shape === 'short') {
    return /* wgsl */ `
const STRIDE = 1u;
fn reduce_sum(v: f32, lid: u32) -> f32 { return v; } // one invocation holds the whole row
${rowOfWgsl(wg)}
@compute @workgroup_size(${wg})
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) groups: vec3u) {
  let row = row_of(gid, groups);
  if (row >= ${rows}) { return; }
  let lid = 0u;`;
  }
  return /* wgsl */ `
const STRIDE = ${wg}u;
${treeSumWgsl(wg)}
@compute @workgroup_size(${wg})
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) groups: vec3u,
        @builtin(local_invocation_index) lid: u32) {
  let row = wid.y * groups.x + wid.x; // rows past 65535 fit
  if (row >= ${rows}) { return; } // the same for the whole workgroup, so the barriers below stay uniform`;
}

/**
 * The norms' parameter gradients, summed in a fixed order: a grid-stride loop of workgroup `wg` over (chunks, C), c
 * fastest so neighbouring invocations read neighbouring columns. Invocation (k, c) sums each of `terms` (WGSL in
 * i = n·C + c and n) over rows n in [k·chunk, min((k + 1)·chunk, N)) ascending into partial[t, k, c]; sum.ts then
 * adds the chunks in order. Bindings: partial (terms, chunks, C) written, then `inputs` read, then the uniforms.
 */
export function columnChunkSumsWgsl(wg: number, inputs: string[], terms: string[]): string {
  const sums = terms.map((_, t) => `s${t}`);
  return /* wgsl */ `
struct Dims { N: u32, C: u32, chunk: u32, chunks: u32 }
@group(0) @binding(0) var<storage, read_write> partial: array<f32>;
${inputs.map((name, b) => `@group(0) @binding(${b + 1}) var<storage, read> ${name}: array<f32>;`).join('\n')}
@group(0) @binding(${inputs.length + 1}) var<uniform> u: Dims;

@compute @workgroup_size(${wg})
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) groups: vec3u) {
  let total = u.chunks * u.C;
  for (var idx = gid.x; idx < total; idx += groups.x * ${wg}u) {
    let c = idx % u.C;
    let k = idx / u.C;
    ${sums.map((s) => `var ${s} = 0.0;`).join('\n    ')}
    for (var n = k * u.chunk; n < min((k + 1u) * u.chunk, u.N); n++) {
      let i = n * u.C + c;
      ${terms.map((term, t) => `${sums[t]} += ${term};`).join('\n      ')}
    }
    ${sums.map((s, t) => `partial[${['', 'total + '][t] ?? `${t}u * total + `}idx] = ${s};`).join('\n    ')}
  }
}
`;
}

/** The running max of an online softmax starts at FLOOR; nan_f32 makes a NaN at run time. */
export const FLOAT_WGSL = /* wgsl */ `
const FLOOR = -3.0e38; // finite, below any logit: exp(FLOOR − x) = 0 without ∞ − ∞
// NaN from a runtime zero: a constant NaN is a shader-creation error in WGSL.
fn nan_f32(zero: u32) -> f32 { return bitcast<f32>(0x7fc00000u | zero); }
`;
