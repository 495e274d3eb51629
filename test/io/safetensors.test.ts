// Safetensors reader/writer: bit-exact round trips, f16/bf16 conversions against hand values and a float64
// oracle, real HF files, Blob and path reads, sharded indexes, every corrupt-header case, atomic writes.
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Rng } from '../../src/util/random.ts';
import { ShapeError, WeightsError } from '../../src/util/errors.ts';
import {
  f16BitsToF32,
  f32BitsToF16,
  readSafetensors,
  readShardedIndex,
  serializeSafetensors,
  type TensorToWrite,
  readSafetensorsSource,
} from '../../src/io/safetensors.ts';
import {
  readSafetensorsPath,
  readShardedIndexPath,
  writeFileAtomic,
  writeSafetensorsFile,
} from '../../src/io/safetensors-node.ts';

const GPT2 = 'assets/gpt2-shakespeare/model.safetensors';
const TINY = 'assets/hf-fixtures/tiny_gpt2/model.safetensors';

let dir = '';
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'safetensors-test-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

function fromBits(bits: number[]): Float32Array {
  return new Float32Array(new Uint32Array(bits).buffer);
}

function bitsOf(a: Float32Array): number[] {
  return Array.from(new Uint32Array(a.buffer, a.byteOffset, a.length));
}

// A file from a header (object, raw JSON text or raw bytes) and a data region (zeros of that size, or bytes).
function build(
  header: unknown,
  data: number | Uint8Array = 0,
  headerLength?: bigint,
): Uint8Array<ArrayBuffer> {
  const raw =
    header instanceof Uint8Array
      ? header
      : new TextEncoder().encode(typeof header === 'string' ? header : JSON.stringify(header));
  const body = typeof data === 'number' ? new Uint8Array(data) : data;
  const out = new Uint8Array(8 + raw.length + body.length);
  new DataView(out.buffer).setBigUint64(0, headerLength ?? BigInt(raw.length), true);
  out.set(raw, 8);
  out.set(body, 8 + raw.length);
  return out;
}

function f32(shape: number[], begin: number, end: number) {
  return { dtype: 'F32', shape, data_offsets: [begin, end] };
}

async function expectWeightsError(promise: Promise<unknown>, parts: string[]): Promise<void> {
  const err = await promise.then(
    () => null,
    (e: unknown) => e,
  );
  expect(err, `expected a WeightsError containing ${JSON.stringify(parts)}`).toBeInstanceOf(WeightsError);
  for (const part of parts) expect((err as Error).message).toContain(part);
}

function sum(a: Float32Array): number {
  let s = 0;
  for (const v of a) s += v;
  return s;
}

describe('round trip', () => {
  const special = [
    0x7fc00001, 0xffa00000, 0x7f800001, 0x7fffffff, 0x80000000, 0x00000001, 0x807fffff, 0x00400000,
    0x7f800000, 0xff800000, 0x7f7fffff, 0x3f800000, 0xbf800001,
  ]; // NaN payloads (quiet and signalling), -0, denormals, ±Inf, max, 1, -1-ulp

  it('F32 is bit-exact, including NaN payloads, -0 and denormals', async () => {
    const rng = new Rng(7);
    const tensors: TensorToWrite[] = [
      { name: 'special', dtype: 'F32', shape: [special.length], data: fromBits(special) },
      { name: 'w', dtype: 'F32', shape: [45, 65], data: rng.normal(45 * 65) },
      { name: 'scalar', dtype: 'F32', shape: [], data: new Float32Array([3.5]) },
      { name: 'empty', dtype: 'F32', shape: [0, 7], data: new Float32Array(0) },
    ];
    const file = await readSafetensors(serializeSafetensors(tensors));
    for (const t of tensors) {
      expect(file.tensors.get(t.name)?.shape).toEqual(t.shape);
      expect(bitsOf(await file.getF32(t.name))).toEqual(bitsOf(t.data));
    }
  });

  it('F16 round trips every finite f16 value exactly, and Inf and NaN', async () => {
    const bits: number[] = [];
    for (let h = 0; h < 0x10000; h++) if ((h & 0x7c00) !== 0x7c00 || (h & 0x3ff) === 0) bits.push(h);
    const values = fromBits(bits.map(f16BitsToF32));
    const bytes = serializeSafetensors([{ name: 'all', dtype: 'F16', shape: [values.length], data: values }]);
    const file = await readSafetensors(bytes);
    expect(Array.from(new Uint16Array((await file.getRaw('all')).buffer))).toEqual(bits);
    expect(bitsOf(await file.getF32('all'))).toEqual(bitsOf(values));
    const nan = await readSafetensors(
      serializeSafetensors([{ name: 'n', dtype: 'F16', shape: [1], data: new Float32Array([NaN]) }]),
    );
    expect(Number.isNaN((await nan.getF32('n'))[0])).toBe(true);
  });

  it('mixed dtypes: names sorted, offsets contiguous, header padded to 8 with spaces', async () => {
    const tensors: TensorToWrite[] = [
      { name: 'b', dtype: 'F16', shape: [3], data: new Float32Array([1, 2, 3]) },
      { name: 'a', dtype: 'F32', shape: [2], data: new Float32Array([4, 5]) },
      { name: '9', dtype: 'F32', shape: [1], data: new Float32Array([6]) },
      { name: '10', dtype: 'F16', shape: [1], data: new Float32Array([7]) },
    ];
    const bytes = serializeSafetensors(tensors, { step: '3' });
    const n = Number(new DataView(bytes.buffer).getBigUint64(0, true));
    expect(n % 8).toBe(0);
    const text = new TextDecoder().decode(bytes.subarray(8, 8 + n));
    expect(text.trimEnd().length).toBeLessThanOrEqual(n);
    expect(text.slice(text.trimEnd().length)).toMatch(/^ *$/);
    expect(text.startsWith('{"__metadata__":{"format":"pt","step":"3"}')).toBe(true);
    const order = [...text.matchAll(/"([^"]+)":\{"dtype"/g)].map((m) => m[1]);
    expect(order).toEqual(['10', '9', 'a', 'b']); // code-unit order, not JS object order
    const file = await readSafetensors(bytes);
    expect(file.metadata).toEqual({ format: 'pt', step: '3' });
    expect(file.dataOffset).toBe(8 + n);
    let at = file.dataOffset;
    for (const name of order) {
      const info = file.tensors.get(name)!;
      expect(info.byteOffset).toBe(at);
      at += info.byteLength;
    }
    expect(at).toBe(bytes.length);
    expect(Array.from(await file.getF32('b'))).toEqual([1, 2, 3]);
    expect(Array.from(await file.getF32('a'))).toEqual([4, 5]); // F32 at a 2-byte-aligned offset
  });

  it('user metadata may override format; an empty tensor list is a valid file', async () => {
    const file = await readSafetensors(serializeSafetensors([], { format: 'mlx' }));
    expect(file.metadata).toEqual({ format: 'mlx' });
    expect(file.tensors.size).toBe(0);
  });
});

describe('f16 conversion', () => {
  it('rounds to nearest even at hand-picked points', () => {
    const cases: [number, number][] = [
      [1, 0x3c00],
      [-2, 0xc000],
      [0.1, 0x2e66],
      [1 / 3, 0x3555],
      [65504, 0x7bff],
      [65519.99, 0x7bff],
      [65520, 0x7c00], // halfway to the next binade rounds to even: Inf
      [-1e6, 0xfc00],
      [2 ** -24, 0x0001],
      [2 ** -25, 0x0000], // tie, to even (0)
      [2 ** -25 * (1 + 2 ** -23), 0x0001],
      [3 * 2 ** -25, 0x0002], // tie between 1 and 2 ulps, to even
      [2 ** -14 - 2 ** -25, 0x0400], // tie between the largest subnormal and the smallest normal
      [1 + 2 ** -11, 0x3c00],
      [1 + 3 * 2 ** -11, 0x3c02],
      [-0, 0x8000],
      [2 ** -126, 0x0000],
    ];
    for (const [value, expected] of cases) {
      const bits = new Uint32Array(new Float32Array([value]).buffer)[0];
      expect(f32BitsToF16(bits), `${value}`).toBe(expected);
    }
    const nan = f32BitsToF16(0x7f800001); // a signalling NaN whose payload is all below f16's mantissa
    expect(nan & 0x7c00).toBe(0x7c00);
    expect(nan & 0x3ff).not.toBe(0);
  });

  it('matches a float64 nearest-even oracle on random f32 bit patterns', () => {
    // The 31744 non-negative finite f16 values in order (bit order is value order).
    const values = Array.from(
      { length: 0x7c00 },
      (_, h) => new Float32Array(new Uint32Array([f16BitsToF32(h)]).buffer)[0],
    );
    const oracle = (x: number): number => {
      const a = Math.abs(x);
      const sign = Object.is(x, -0) || x < 0 ? 0x8000 : 0;
      if (a >= 65520) return sign | 0x7c00;
      let lo = 0;
      let hi = values.length - 1;
      while (lo < hi) {
        const mid = (lo + hi + 1) >> 1;
        if (values[mid] <= a) lo = mid;
        else hi = mid - 1;
      }
      if (lo === values.length - 1) return sign | lo;
      const below = a - values[lo];
      const above = values[lo + 1] - a;
      return sign | (below < above || (below === above && lo % 2 === 0) ? lo : lo + 1);
    };
    const rng = new Rng(11);
    const words = new Uint32Array(1);
    const floats = new Float32Array(words.buffer);
    for (let i = 0; i < 200_000; i++) {
      // Half the draws land near f16's range (f32 exponents 95..143), where rounding matters.
      const exp = i % 2 ? Math.floor(rng.next() * 256) : 95 + Math.floor(rng.next() * 49);
      words[0] =
        ((rng.next() < 0.5 ? 0x80000000 : 0) | (exp << 23) | Math.floor(rng.next() * 0x800000)) >>> 0;
      if (exp === 0xff) continue;
      const got = f32BitsToF16(words[0]);
      if (got !== oracle(floats[0]))
        expect(got, `f32 bits 0x${words[0].toString(16)}`).toBe(oracle(floats[0]));
    }
  });
});

describe('upcast and integer reads', () => {
  it('F16 and BF16 widen to hand-computed f32 values', async () => {
    const f16 = new Uint16Array([
      0x3c00, 0xc000, 0x7bff, 0x0001, 0x0400, 0x8000, 0x7c00, 0xfc00, 0x3555, 0x03ff,
    ]);
    const bf16 = new Uint16Array([0x3f80, 0xc040, 0x4049, 0x0001, 0x7f80, 0xff80, 0x7fc0, 0x8000]);
    const header = {
      h: { dtype: 'F16', shape: [2, 5], data_offsets: [0, 20] },
      b: { dtype: 'BF16', shape: [8], data_offsets: [20, 36] },
    };
    const data = new Uint8Array(36);
    data.set(new Uint8Array(f16.buffer), 0);
    data.set(new Uint8Array(bf16.buffer), 20);
    const file = await readSafetensors(build(header, data), 'halves.safetensors');
    const h = Array.from(await file.getF32('h'));
    const want = [1, -2, 65504, 2 ** -24, 2 ** -14, -0, Infinity, -Infinity, 0.333251953125, 1023 * 2 ** -24];
    want.forEach((w, i) => expect(Object.is(h[i], w), `f16[${i}] = ${h[i]}, expected ${w}`).toBe(true));
    const b = Array.from(await file.getF32('b'));
    expect(b.slice(0, 6)).toEqual([1, -3, 3.140625, 2 ** -133, Infinity, -Infinity]);
    expect(Number.isNaN(b[6])).toBe(true);
    expect(Object.is(b[7], -0)).toBe(true);
  });

  it('F64 rounds to the nearest f32', async () => {
    const values = new Float64Array([1 / 3, -2.5, 1e300, 1e-50, Math.PI]);
    const file = await readSafetensors(
      build({ d: { dtype: 'F64', shape: [5], data_offsets: [0, 40] } }, new Uint8Array(values.buffer)),
    );
    expect(Array.from(await file.getF32('d'))).toEqual(Array.from(values, Math.fround));
  });

  it('I64 reads as range-checked Int32; I32, U8 and BOOL widen; raw bytes come back as stored', async () => {
    const i64 = new BigInt64Array([0n, -1n, 2147483647n, -2147483648n, 42n]);
    const big = new BigInt64Array([5n, 2147483648n]);
    const i32 = new Int32Array([-7, 9]);
    const u8 = new Uint8Array([0, 200, 255]);
    const bool = new Uint8Array([1, 0]);
    const header = {
      i64: { dtype: 'I64', shape: [5], data_offsets: [0, 40] },
      big: { dtype: 'I64', shape: [2], data_offsets: [40, 56] },
      i32: { dtype: 'I32', shape: [2], data_offsets: [56, 64] },
      u8: { dtype: 'U8', shape: [3], data_offsets: [64, 67] },
      mask: { dtype: 'BOOL', shape: [2], data_offsets: [67, 69] },
    };
    const data = new Uint8Array(69);
    [i64, big, i32, u8, bool].reduce((at, a) => {
      data.set(new Uint8Array(a.buffer), at);
      return at + a.byteLength;
    }, 0);
    const file = await readSafetensors(build(header, data), 'ints.safetensors');
    expect(Array.from(await file.getInt32('i64'))).toEqual([0, -1, 2147483647, -2147483648, 42]);
    expect(Array.from(await file.getInt32('i32'))).toEqual([-7, 9]);
    expect(Array.from(await file.getInt32('u8'))).toEqual([0, 200, 255]);
    expect(Array.from(await file.getInt32('mask'))).toEqual([1, 0]);
    expect(Array.from(await file.getRaw('u8'))).toEqual([0, 200, 255]);
    await expectWeightsError(file.getInt32('big'), [
      'ints.safetensors',
      "tensor 'big'",
      'element 1 does not fit in int32',
      'got 2147483648',
    ]);
    await expectWeightsError(file.getF32('i32'), ["tensor 'i32'", 'cannot be read as f32', 'got I32']);
  });

  it('raw bytes are a copy the caller owns; unknown names suggest a near match', async () => {
    const bytes = await readFile(TINY);
    const file = await readSafetensors(bytes, 'tiny.safetensors');
    const raw = await file.getRaw('ln_f.weight');
    raw.fill(0);
    expect(Array.from(await file.getRaw('ln_f.weight'))).not.toEqual(Array.from(raw));
    await expectWeightsError(file.getF32('transformer.h.0.attn.c_attn.weight'), [
      'tiny.safetensors',
      "tensor 'transformer.h.0.attn.c_attn.weight' not found",
      "did you mean 'h.0.attn.c_attn.weight'",
    ]);
  });

  it('reads F32 at an unaligned offset within an unaligned view', async () => {
    const header = { u: { dtype: 'U8', shape: [1], data_offsets: [0, 1] }, w: f32([2], 1, 9) };
    const data = new Uint8Array(9);
    data.set(new Uint8Array(new Float32Array([1.5, -2.25]).buffer), 1);
    const file = build(header, data);
    const shifted = new Uint8Array(file.length + 1);
    shifted.set(file, 1);
    const read = await readSafetensors(shifted.subarray(1));
    expect(Array.from(await read.getF32('w'))).toEqual([1.5, -2.25]);
  });
});

describe('real Hugging Face files', () => {
  it('gpt2-shakespeare: names, shapes, 8-byte aligned data, values match a Python read', async () => {
    const file = await readSafetensors(await readFile(GPT2), 'model.safetensors');
    expect(file.tensors.size).toBe(52);
    expect(file.metadata).toEqual({ format: 'pt' });
    expect(file.dataOffset).toBe(8 + 4896);
    expect(file.dataOffset % 8).toBe(0);
    const info = file.tensors.get('transformer.h.0.attn.c_attn.weight')!;
    expect(info).toMatchObject({ dtype: 'F32', shape: [64, 192], byteLength: 64 * 192 * 4 });
    expect(file.tensors.get('transformer.wte.weight')?.shape).toEqual([50257, 64]);
    const w = await file.getF32('transformer.h.0.attn.c_attn.weight');
    expect(bitsOf(w.subarray(0, 3))).toEqual([1005202364, 1025567808, 3133314725]);
    expect(sum(w)).toBe(-0.038090753684628); // Python: sum(struct.unpack(...)) in the same order
  });

  it('tiny_gpt2 (saved by transformers itself): names without prefix, Conv1D shapes', async () => {
    const file = await readSafetensorsPath(TINY);
    expect(file.name).toBe(TINY);
    expect(file.tensors.size).toBe(16);
    expect(file.metadata).toEqual({ format: 'pt' });
    expect(file.tensors.get('h.0.attn.c_attn.weight')?.shape).toEqual([2, 6]);
    expect(file.tensors.get('wte.weight')?.shape).toEqual([21, 2]);
    const w = await file.getF32('h.0.attn.c_attn.weight');
    expect(bitsOf(w.subarray(0, 3))).toEqual([1000397869, 3167409109, 1012155394]);
    expect(sum(w)).toBe(0.06982932472601533);
  });

  it('Blob, path and buffer reads agree; a Blob is sliced, each byte read once', async () => {
    const bytes = await readFile(GPT2);
    const fromBuffer = await readSafetensors(bytes);
    const fromPath = await readSafetensorsPath(GPT2);
    const real = new Blob([bytes]);
    const slices: [number, number][] = [];
    const spy = {
      size: real.size,
      slice: (a: number, b: number) => {
        slices.push([a, b]);
        return real.slice(a, b);
      },
      arrayBuffer: () => Promise.reject(new Error('the whole blob was read')),
    } as unknown as Blob;
    const fromBlob = await readSafetensors(spy, 'spy.safetensors');
    expect(fromBlob.name).toBe('spy.safetensors');
    for (const name of fromBuffer.tensors.keys()) {
      const expected = bitsOf(await fromBuffer.getF32(name));
      expect(bitsOf(await fromBlob.getF32(name))).toEqual(expected);
      expect(bitsOf(await fromPath.getF32(name))).toEqual(expected);
    }
    const read = slices.reduce((n, [a, b]) => n + b - a, 0);
    expect(read).toBe(bytes.length);
    const file = await readSafetensors(new File([bytes], 'upload.safetensors'));
    expect(file.name).toBe('upload.safetensors');
  });

  it('a file changed after its header was read is refused, not misread', async () => {
    const path = join(dir, 'changing.safetensors');
    await writeSafetensorsFile(path, [{ name: 'a', dtype: 'F32', shape: [4], data: new Float32Array(4) }]);
    const file = await readSafetensorsPath(path);
    await writeSafetensorsFile(path, [{ name: 'a', dtype: 'F32', shape: [8], data: new Float32Array(8) }]);
    await expectWeightsError(file.getF32('a'), [path, 'file changed after its header was read']);
  });
});

describe('sharded checkpoints', () => {
  const a = new Float32Array([1, 2, 3]);
  const b = new Float32Array([4, 5]);
  const c = new Float32Array([6]);
  const weightMap = {
    a: 'model-00001-of-00002.safetensors',
    b: 'model-00001-of-00002.safetensors',
    c: 'model-00002-of-00002.safetensors',
  };
  const shard1 = serializeSafetensors([
    { name: 'a', dtype: 'F32', shape: [3], data: a },
    { name: 'b', dtype: 'F16', shape: [2], data: b },
  ]);
  const shard2 = serializeSafetensors([{ name: 'c', dtype: 'F32', shape: [1], data: c }]);
  const index = JSON.stringify({ metadata: { total_size: 20 }, weight_map: weightMap });

  async function folder(
    name: string,
    indexText: string,
    shards: Record<string, Uint8Array>,
  ): Promise<string> {
    const sub = join(dir, name);
    await mkdir(sub, { recursive: true });
    for (const [file, bytes] of Object.entries(shards)) await writeFile(join(sub, file), bytes);
    const path = join(sub, 'model.safetensors.index.json');
    await writeFile(path, indexText);
    return path;
  }
  const both = { 'model-00001-of-00002.safetensors': shard1, 'model-00002-of-00002.safetensors': shard2 };

  it('node: one merged view over the shards', async () => {
    const view = await readShardedIndexPath(await folder('sharded', index, both));
    expect([...view.tensors.keys()].sort()).toEqual(['a', 'b', 'c']);
    expect(view.metadata).toEqual({ format: 'pt', total_size: '20' });
    expect(view.tensors.get('c')?.file).toContain('model-00002-of-00002.safetensors');
    expect(Array.from(await view.getF32('a'))).toEqual([1, 2, 3]);
    expect(Array.from(await view.getF32('b'))).toEqual([4, 5]);
    expect(Array.from(await view.getF32('c'))).toEqual([6]);
    await expectWeightsError(view.getF32('d'), ['model.safetensors.index.json', "tensor 'd' not found"]);
  });

  it('browser: index Blob and a map of shard Blobs', async () => {
    const shards = new Map(Object.entries(both).map(([k, v]) => [k, new Blob([v])]));
    const view = await readShardedIndex(new Blob([index]), shards);
    expect(Array.from(await view.getF32('b'))).toEqual([4, 5]);
    expect(view.shards.size).toBe(2);
    shards.delete('model-00002-of-00002.safetensors');
    await expectWeightsError(readShardedIndex(index, shards), [
      'model.safetensors.index.json',
      "shard 'model-00002-of-00002.safetensors' was not given",
    ]);
  });

  it('index and shards must agree', async () => {
    const missing = await folder('missing', index, { 'model-00001-of-00002.safetensors': shard1 });
    await expectWeightsError(readShardedIndexPath(missing), [
      missing,
      "shard 'model-00002-of-00002.safetensors'",
    ]);
    const extra = JSON.stringify({ weight_map: { ...weightMap, d: 'model-00002-of-00002.safetensors' } });
    await expectWeightsError(readShardedIndexPath(await folder('extra', extra, both)), [
      "weight_map puts tensor 'd' in 'model-00002-of-00002.safetensors'",
    ]);
    const unmapped = JSON.stringify({ weight_map: { a: weightMap.a, c: weightMap.c } });
    await expectWeightsError(readShardedIndexPath(await folder('unmapped', unmapped, both)), [
      'model-00001-of-00002.safetensors',
      "tensor 'b' is not mapped to this shard",
    ]);
    const escape = JSON.stringify({ weight_map: { a: '../model.safetensors' } });
    await expectWeightsError(readShardedIndexPath(await folder('escape', escape, both)), [
      "weight_map['a'] is not a plain file name",
    ]);
    await expectWeightsError(readShardedIndex('{"weight_map": 3}', new Map()), [
      'weight_map is missing or not an object',
    ]);
    await expectWeightsError(readShardedIndex('{', new Map()), ['not valid JSON']);
  });
});

describe('corrupt files', () => {
  const ok = f32([2], 0, 8);
  const cases: [string, Uint8Array<ArrayBuffer>, string[]][] = [
    ['shorter than 8 bytes', new Uint8Array(5), ['too short', 'got 5']],
    [
      'header length past the end',
      build({ a: ok }, 8, 1000n),
      ['runs past the end of the file', 'expected at most 62 bytes', 'got more than that'],
    ],
    [
      'header length 2^64 - 1',
      build({ a: ok }, 8, 2n ** 64n - 1n),
      ['runs past the end of the file', 'got more than that'],
    ],
    ['header not UTF-8', build(new Uint8Array([0x7b, 0xff, 0xfe, 0x7d])), ['not valid UTF-8']],
    ['header not JSON', build('{"a": '), ['not valid JSON']],
    ['header a JSON array', build('[1, 2]'), ['not a JSON object', 'got [1,2]']],
    ['header JSON null', build('null'), ['not a JSON object']],
    ['entry not an object', build({ a: 5 }), ["tensor 'a'", 'entry is not an object', 'got 5']],
    ['missing dtype', build({ a: { shape: [2], data_offsets: [0, 8] } }, 8), ["tensor 'a'", 'has no dtype']],
    [
      'missing shape',
      build({ a: { dtype: 'F32', data_offsets: [0, 8] } }, 8),
      ["tensor 'a'", 'has no shape'],
    ],
    [
      'missing data_offsets',
      build({ a: { dtype: 'F32', shape: [2] } }, 8),
      ["tensor 'a'", 'has no data_offsets'],
    ],
    ['dtype not a string', build({ a: { ...ok, dtype: 4 } }, 8), ["tensor 'a'", 'unknown dtype', 'got 4']],
    [
      'unknown dtype',
      build({ a: { ...ok, dtype: 'Q4_K' } }, 8),
      ["tensor 'a'", 'unknown dtype', 'got "Q4_K"'],
    ],
    ['shape not an array', build({ a: { ...ok, shape: '2' } }, 8), ["tensor 'a'", 'shape is invalid']],
    ['negative dim', build({ a: { ...ok, shape: [-2] } }, 8), ["tensor 'a'", 'shape is invalid', 'got [-2]']],
    ['fractional dim', build({ a: { ...ok, shape: [1.5] } }, 8), ["tensor 'a'", 'shape is invalid']],
    ['string dim', build({ a: { ...ok, shape: ['2'] } }, 8), ["tensor 'a'", 'shape is invalid']],
    ['one offset', build({ a: { ...ok, data_offsets: [0] } }, 8), ["tensor 'a'", 'data_offsets is invalid']],
    [
      'string offset',
      build({ a: { ...ok, data_offsets: ['0', 8] } }, 8),
      ["tensor 'a'", 'data_offsets is invalid'],
    ],
    ['reversed offsets', build({ a: f32([0], 8, 4) }, 8), ["tensor 'a'", 'are reversed', 'got 8 > 4']],
    [
      'offsets out of range',
      build({ a: f32([16], 0, 64) }, 16),
      ["tensor 'a'", 'run past the data region', 'got 64'],
    ],
    [
      'size != shape x dtype',
      build({ a: f32([3], 0, 8) }, 8),
      ["tensor 'a'", 'do not match its shape', '12 bytes'],
    ],
    ['overlap', build({ a: ok, b: f32([2], 4, 12) }, 12), ["tensor 'b'", "overlap tensor 'a'"]],
    [
      'gap between tensors',
      build({ a: ok, b: f32([2], 12, 20) }, 20),
      ["tensor 'b'", 'gap', "end of tensor 'a'"],
    ],
    [
      'gap at the start',
      build({ a: f32([2], 4, 12) }, 12),
      ["tensor 'a'", 'gap', 'start of the data region'],
    ],
    [
      'trailing bytes',
      build({ a: ok }, 12),
      ['do not cover the data region', 'expected an end at 12, got 8'],
    ],
    [
      'duplicate names',
      build(`{"a": ${JSON.stringify(f32([2], 0, 8))}, "a": ${JSON.stringify(f32([2], 8, 16))}}`, 16),
      ["tensor 'a'", 'twice'],
    ],
    [
      'metadata value not a string',
      build({ __metadata__: { step: 3 }, a: ok }, 8),
      ["__metadata__ 'step'", 'got 3'],
    ],
  ];

  it.each(cases)('%s', async (_, bytes, parts) => {
    await expectWeightsError(readSafetensors(bytes, 'bad.safetensors'), ['bad.safetensors: ', ...parts]);
    await expectWeightsError(readSafetensors(new Blob([bytes]), 'bad.safetensors'), [
      'bad.safetensors: ',
      ...parts,
    ]);
  });

  it('refuses a header length over 100 MB in a file that large, and prints it (it is no longer file text)', async () => {
    const prefix = build({ a: ok }, 8, 100_000_001n).subarray(0, 8);
    const huge = { size: 200_000_000, fresh: false, read: async () => prefix };
    await expectWeightsError(readSafetensorsSource(huge, 'huge.safetensors'), [
      'huge.safetensors: header length is over the limit',
      'got 100000001',
    ]);
  });

  it('never echoes the bytes of a text file (an /etc/passwd-like one) or a control character', async () => {
    const passwd = 'root:x:0:0:root:/root:/bin/bash\ndaemon:x:1:1::/usr/sbin:/usr/sbin/nologin\n';
    const messages: string[] = [];
    const texts = [passwd, `\u0000${passwd}`, `{"root\u0000\u001b[2J": 1}${passwd}`];
    for (const text of texts) {
      for (const bytes of [new TextEncoder().encode(text), build(text), build(`{"a": 1}${text}`)]) {
        const err = await readSafetensors(bytes, 'shard.safetensors').catch((e: unknown) => e);
        expect(err).toBeInstanceOf(WeightsError);
        messages.push((err as Error).message);
      }
    }
    const index = `{"weight_map": {"root\u0000x": "../${passwd.slice(0, 8)}"}}`;
    for (const text of [index, passwd]) {
      const err = await readShardedIndex(text, new Map()).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(WeightsError);
      messages.push((err as Error).message);
    }
    for (const message of messages) {
      expect(message).not.toMatch(/root|daemon|bin\/bash/);
      expect(message).not.toMatch(/\d{10,}/); // the first 8 bytes read as a number
      expect(message).not.toMatch(/[\u0000-\u0009\u000b-\u001f\u007f-\u009f]/); // \n only before hint:
    }
    expect(messages[0]).toContain('header length runs past the end of the file');
    expect(messages[0]).toContain('got more than that');
    expect(messages.join('\n')).toContain(
      'not valid JSON, expected a JSON object, got a syntax error at line 1',
    );
  });

  it('refuses a header nested 100 000 deep with a WeightsError naming the file', async () => {
    for (const header of ['{"a":'.repeat(100_000), `${'['.repeat(100_000)}${']'.repeat(100_000)}`]) {
      await expectWeightsError(readSafetensors(build(header), 'deep.safetensors'), [
        'deep.safetensors: header JSON nested too deeply',
        'more than 256 levels',
      ]);
    }
    const index = `{"weight_map": ${'{"a":'.repeat(100_000)}`;
    await expectWeightsError(readShardedIndex(index, new Map(), 'deep.index.json'), [
      'deep.index.json: JSON nested too deeply',
    ]);
  });

  it('names the path when read from disk', async () => {
    const path = join(dir, 'corrupt.safetensors');
    await writeFile(path, build({ a: f32([3], 0, 8) }, 8));
    await expectWeightsError(readSafetensorsPath(path), [`${path}: tensor 'a'`]);
  });

  it('random corruption of a real file only ever yields a WeightsError', async () => {
    const good = new Uint8Array(await readFile(TINY));
    const rng = new Rng(3);
    for (let trial = 0; trial < 400; trial++) {
      let bytes = good.slice();
      const kind = trial % 4;
      if (kind === 0)
        bytes = bytes.slice(0, Math.floor(rng.next() * bytes.length)); // truncation
      else {
        const flips = 1 + Math.floor(rng.next() * 4);
        const span = kind === 1 ? 8 : kind === 2 ? 8 + 1200 : bytes.length; // length, header, anywhere
        for (let f = 0; f < flips; f++) bytes[Math.floor(rng.next() * span)] = Math.floor(rng.next() * 256);
      }
      try {
        const file = await readSafetensors(bytes, 'fuzz.safetensors');
        for (const name of file.tensors.keys()) await file.getRaw(name);
      } catch (err) {
        if (!(err instanceof WeightsError)) throw new Error(`trial ${trial}: ${String(err)}`);
        expect(err.message).toContain('fuzz.safetensors');
      }
    }
  });
});

describe('writer validation and atomic writes', () => {
  it('rejects repeated or reserved names, shape/data mismatch and non-string metadata', () => {
    const t = (name: string, shape: number[], n: number): TensorToWrite => ({
      name,
      dtype: 'F32',
      shape,
      data: new Float32Array(n),
    });
    expect(() => serializeSafetensors([t('x', [2], 2), t('x', [2], 2)])).toThrow(/tensor 'x'.*repeated/);
    expect(() => serializeSafetensors([t('__metadata__', [1], 1)])).toThrow(WeightsError);
    expect(() => serializeSafetensors([t('x', [2, 3], 5)])).toThrow(ShapeError);
    expect(() => serializeSafetensors([t('x', [2, 3], 5)])).toThrow(/expected 6 elements, got 5/);
    const meta = { step: 3 } as unknown as Record<string, string>;
    expect(() => serializeSafetensors([], meta)).toThrow(/metadata 'step', expected a string, got 3/);
  });

  async function temps(folder: string): Promise<string[]> {
    return (await readdir(folder)).filter((f) => f.includes('.tmp-'));
  }

  it('replaces an existing file only on success and leaves no temp file', async () => {
    const sub = join(dir, 'atomic');
    await mkdir(sub);
    const path = join(sub, 'model.safetensors');
    await writeSafetensorsFile(path, [
      { name: 'w', dtype: 'F32', shape: [2], data: new Float32Array([1, 2]) },
    ]);
    await writeSafetensorsFile(path, [
      { name: 'w', dtype: 'F32', shape: [2], data: new Float32Array([3, 4]) },
    ]);
    expect(Array.from(await (await readSafetensorsPath(path)).getF32('w'))).toEqual([3, 4]);
    const before = await readFile(path);
    const bad = [{ name: 'w', dtype: 'F32' as const, shape: [3], data: new Float32Array([5, 6]) }];
    await expect(writeSafetensorsFile(path, bad)).rejects.toThrow(ShapeError);
    expect(await readFile(path)).toEqual(before);
    expect(await temps(sub)).toEqual([]);
  });

  it('removes the temp file when the rename fails', async () => {
    const sub = join(dir, 'rename-fails');
    const target = join(sub, 'config.json');
    await mkdir(join(target, 'inside'), { recursive: true }); // a non-empty directory cannot be renamed over
    await expect(writeFileAtomic(target, '{"n_layer": 2}')).rejects.toThrow();
    expect(await temps(sub)).toEqual([]);
    expect(await readdir(target)).toEqual(['inside']);
    const config = join(sub, 'config2.json');
    await writeFileAtomic(config, '{"n_layer": 2}');
    expect(await readFile(config, 'utf8')).toBe('{"n_layer": 2}');
  });
});
