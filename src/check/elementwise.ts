// GPU-vs-reference checks for add, mul, scale and accumulate at awkward sizes, with and without broadcasting.
// Forward ops do one correctly rounded f32 operation per element (WGSL requires it for + and *), so they must match
// the float64 result rounded to f32 exactly (bound 0). The broadcast gradients db are sums of mixed sign (bound
// relL2 ≤ 1e-5 against Σ|terms|, compare.ts: at n = 7, bn = 1 a plain relative bound came within 0.9× of failing on
// cancellation alone in 400 seeds).
import type { Gpu } from '../gpu/gpu.ts';
import {
  accumulate,
  addBackward,
  addForward,
  mulBackward,
  mulForward,
  scaleBackward,
  scaleForward,
} from '../kernels/elementwise.ts';
import {
  accumulateRef,
  addBackwardRef,
  addForwardRef,
  mulBackwardRef,
  mulForwardRef,
  scaleBackwardRef,
  scaleForwardRef,
} from '../reference/elementwise.ts';
import { checkOutput, poison, toF32, toF64, type KernelCheck, scoped } from './kernel-check.ts';
import type { Rng } from '../util/random.ts';
import type { BroadcastDims } from '../ops/dims.ts';

const EXACT = 0;
const SUM_BOUND = 1e-5;

// (n, bn): 1, primes, non-multiples of the 256-wide workgroup, many short rows, few long rows, one larger case.
const BINARY_SIZES: [number, number][] = [
  [1, 1],
  [7, 1],
  [7, 7],
  [65, 13],
  [1031, 1031],
  [257 * 3, 3],
  [37 * 768, 768],
  [9001 * 2, 2],
  [200_003, 200_003],
];
const UNARY_SIZES = [1, 7, 257, 1031, 200_003];

function output(gpu: Gpu, label: string, n: number): GPUBuffer {
  const buf = gpu.alloc(label, n * 4);
  poison(gpu, buf);
  return buf;
}

function binaryForward(op: 'add' | 'mul', dims: BroadcastDims): KernelCheck {
  const { n, bn } = dims;
  return {
    kernel: `${op} forward`,
    size: `n=${n} bn=${bn}`,
    run: (gpu: Gpu, rng: Rng) =>
      scoped(gpu, 'elementwise', async () => {
        const a = rng.uniform(n);
        const b = rng.uniform(bn);
        const out = output(gpu, 'out', n);
        (op === 'add' ? addForward : mulForward)(gpu, out, gpu.upload('a', a), gpu.upload('b', b), dims);
        const got = await gpu.read(out, 'f32', n);
        const want = new Float64Array(n); // (n)
        (op === 'add' ? addForwardRef : mulForwardRef)(want, toF64(a), toF64(b), dims);
        return [checkOutput('out', got, toF32(want), EXACT)];
      }),
  };
}

function binaryBackward(op: 'add' | 'mul', dims: BroadcastDims): KernelCheck {
  const { n, bn } = dims;
  return {
    kernel: `${op} backward`,
    size: `n=${n} bn=${bn}`,
    run: (gpu: Gpu, rng: Rng) =>
      scoped(gpu, 'elementwise', async () => {
        const a = rng.uniform(n);
        const b = rng.uniform(bn);
        const dout = rng.uniform(n);
        const da = output(gpu, 'da', n);
        const db = output(gpu, 'db', bn);
        const doutBuf = gpu.upload('dout', dout);
        if (op === 'add') addBackward(gpu, da, db, doutBuf, dims);
        else mulBackward(gpu, da, db, doutBuf, gpu.upload('a', a), gpu.upload('b', b), dims);
        const gotDa = await gpu.read(da, 'f32', n);
        const gotDb = await gpu.read(db, 'f32', bn);
        const wantDa = new Float64Array(n); // (n)
        const wantDb = new Float64Array(bn); // (bn)
        if (op === 'add') addBackwardRef(wantDa, wantDb, toF64(dout), dims);
        else mulBackwardRef(wantDa, wantDb, toF64(dout), toF64(a), toF64(b), dims);
        // Without broadcasting db is one rounded op per element too.
        if (bn === n)
          return [
            checkOutput('da', gotDa, toF32(wantDa), EXACT),
            checkOutput('db', gotDb, toF32(wantDb), EXACT),
          ];
        // Σ|terms| of db: the same reference on |dout| and |a|.
        const terms = new Float64Array(bn);
        const absDout = toF64(dout).map(Math.abs);
        if (op === 'add') addBackwardRef(new Float64Array(n), terms, absDout, dims);
        else mulBackwardRef(new Float64Array(n), terms, absDout, toF64(a).map(Math.abs), toF64(b), dims);
        return [
          checkOutput('da', gotDa, toF32(wantDa), EXACT),
          checkOutput('db', gotDb, wantDb, SUM_BOUND, terms),
        ];
      }),
  };
}

function scaleCheck(direction: 'forward' | 'backward', n: number): KernelCheck {
  return {
    kernel: `scale ${direction}`,
    size: `n=${n}`,
    run: (gpu: Gpu, rng: Rng) =>
      scoped(gpu, 'elementwise', async () => {
        const alpha = Math.fround(rng.uniform(1, -3, 3)[0]);
        const x = rng.uniform(n);
        const out = output(gpu, 'out', n);
        (direction === 'forward' ? scaleForward : scaleBackward)(gpu, out, gpu.upload('x', x), { n, alpha });
        const got = await gpu.read(out, 'f32', n);
        const want = new Float64Array(n); // (n)
        (direction === 'forward' ? scaleForwardRef : scaleBackwardRef)(want, toF64(x), { n, alpha });
        return [checkOutput(direction === 'forward' ? 'out' : 'da', got, toF32(want), EXACT)];
      }),
  };
}

function accumulateCheck(n: number): KernelCheck {
  return {
    kernel: 'accumulate',
    size: `n=${n}`,
    run: (gpu: Gpu, rng: Rng) =>
      scoped(gpu, 'elementwise', async () => {
        const acc = rng.uniform(n);
        const x = rng.uniform(n);
        const accBuf = gpu.upload('acc', acc);
        accumulate(gpu, accBuf, gpu.upload('x', x), { n });
        const got = await gpu.read(accBuf, 'f32', n);
        const want = toF64(acc); // (n)
        accumulateRef(want, toF64(x), { n });
        return [checkOutput('acc', got, toF32(want), EXACT)];
      }),
  };
}

export const elementwiseChecks: KernelCheck[] = [
  ...BINARY_SIZES.flatMap(([n, bn]) => [
    binaryForward('add', { n, bn }),
    binaryBackward('add', { n, bn }),
    binaryForward('mul', { n, bn }),
    binaryBackward('mul', { n, bn }),
  ]),
  ...UNARY_SIZES.flatMap((n) => [scaleCheck('forward', n), scaleCheck('backward', n), accumulateCheck(n)]),
];
