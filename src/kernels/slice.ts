// Columns [start, start + width) of a row-major (rows, cols) matrix: out (rows, width), out[r, j] = x[r, start + j].
// The fused attention projection (B·T, 3C) splits into q, k, v this way. The backward writes only its own columns of
// dx, dx[r, start + j] = dout[r, j], so the three slices of one tensor fill one dx without a race (the caller zeroes
// dx first when other columns must be 0). Pure data movement: exact.
import type { Gpu, Kernel } from '../gpu/gpu.ts';
import { ShapeError } from '../util/errors.ts';
import { strideGroups } from './grid.ts';
import type { SliceDims } from '../ops/dims.ts';

const WG = 256;

const SLICE_FORWARD: Kernel = {
  name: 'slice-forward',
  wgsl: /* wgsl */ `
// Workgroup ${WG}, grid-stride loop over the rows·width elements of out (j fastest, contiguous within a row).
// One invocation: out[r, j] = x[r, start + j]. Bindings: out (rows, width) written, x (rows, cols) read.
struct Dims { rows: u32, cols: u32, start: u32, width: u32 }
@group(0) @binding(0) var<storage, read_write> out: array<f32>;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<uniform> u: Dims;

@compute @workgroup_size(${WG})
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) groups: vec3u) {
  let total = u.rows * u.width;
  for (var idx = gid.x; idx < total; idx += groups.x * ${WG}u) {
    let r = idx / u.width;
    out[idx] = x[r * u.cols + u.start + idx % u.width];
  }
}
`,
  sizes: ({ rows, cols, width }) => ({ out: rows * width, x: rows * cols }),
};

const SLICE_BACKWARD: Kernel = {
  name: 'slice-backward',
  wgsl: /* wgsl */ `
// Workgroup ${WG}, grid-stride loop over the rows·width elements of dout; columns of dx outside
// [start, start + width) are never touched. One invocation: dx[r, start + j] = dout[r, j].
// Bindings: dx (rows, cols) written, dout (rows, width) read.
struct Dims { rows: u32, cols: u32, start: u32, width: u32 }
@group(0) @binding(0) var<storage, read_write> dx: array<f32>;
@group(0) @binding(1) var<storage, read> dout: array<f32>;
@group(0) @binding(2) var<uniform> u: Dims;

@compute @workgroup_size(${WG})
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) groups: vec3u) {
  let total = u.rows * u.width;
  for (var idx = gid.x; idx < total; idx += groups.x * ${WG}u) {
    let r = idx / u.width;
    dx[r * u.cols + u.start + idx % u.width] = dout[idx];
  }
}
`,
  sizes: ({ rows, cols, width }) => ({ dx: rows * cols, dout: rows * width }),
};

export function sliceForward(gpu: Gpu, out: GPUBuffer, x: GPUBuffer, dims: SliceDims): void {
  const { rows, cols, start, width } = checkDims('sliceForward', dims);
  gpu.dispatch(SLICE_FORWARD, { out, x }, { rows, cols, start, width }, strideGroups(gpu, rows * width, WG));
}

/** dx[r, start + j] = dout[r, j]; every other column of dx keeps its value. */
export function sliceBackward(gpu: Gpu, dx: GPUBuffer, dout: GPUBuffer, dims: SliceDims): void {
  const { rows, cols, start, width } = checkDims('sliceBackward', dims);
  gpu.dispatch(
    SLICE_BACKWARD,
    { dx, dout },
    { rows, cols, start, width },
    strideGroups(gpu, rows * width, WG),
  );
}

function checkDims(where: string, dims: SliceDims): SliceDims {
  for (const key of ['rows', 'cols', 'width'] as const) {
    const v = dims[key];
    if (!Number.isInteger(v) || v < 1) {
      throw new ShapeError(`${where}: dims.${key}, expected an integer ≥ 1, got ${v}`);
    }
  }
  const { rows, cols, start, width } = dims;
  if (!Number.isInteger(start) || start < 0 || start + width > cols) {
    throw new ShapeError(
      `${where}: columns [start, start + width), expected within [0, ${cols}), got [${start}, ${start + width})`,
    );
  }
  if (rows * cols >= 2 ** 32) {
    throw new ShapeError(`${where}: rows·cols, expected < 2^32 (u32 indices), got ${rows * cols}`);
  }
  return dims;
}
