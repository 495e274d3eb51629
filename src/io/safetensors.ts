// Safetensors read/write, platform-neutral (Node paths: safetensors-node.ts). Layout: u64 LE header length N,
// N bytes of UTF-8 JSON {name: {dtype, shape, data_offsets: [begin, end]}, __metadata__?: {k: string}}, then
// the data region, which the tensors cover exactly; offsets are relative to its start. Typed-array views
// assume a little-endian host, as every WebGPU platform is.
import { ShapeError, WeightsError } from '../util/errors.ts';
import { parseJsonText } from './json-text.ts';
import { quote, show } from './quote.ts';
import { f16BitsToF32, f32BitsToBf16, f32BitsToF16 } from '../util/half.ts';
import {
  byteCount,
  DTYPE_BYTES,
  fail,
  isCount,
  isObject,
  MAX_HEADER_BYTES,
  parseHeader,
  type TensorInfo,
} from './safetensors-header.ts';

export { DTYPE_BYTES, MAX_HEADER_BYTES, type Dtype, type TensorInfo } from './safetensors-header.ts';

/** Random access to a file's bytes: an in-memory buffer, a Blob, or a Node path. */
export interface ByteSource {
  readonly size: number;
  // read() returns a buffer nobody else holds, so an aligned F32 tensor can be wrapped instead of copied.
  readonly fresh: boolean;
  read(offset: number, length: number): Promise<Uint8Array>;
}

/** What a single file and a sharded checkpoint both offer. */
export interface TensorStore {
  readonly name: string;
  readonly tensors: ReadonlyMap<string, TensorInfo>;
  readonly metadata: Readonly<Record<string, string>>;
  getF32(name: string): Promise<Float32Array>;
  getInt32(name: string): Promise<Int32Array>;
  getRaw(name: string): Promise<Uint8Array>;
}

export class SafetensorsFile implements TensorStore {
  constructor(
    readonly name: string,
    readonly tensors: ReadonlyMap<string, TensorInfo>,
    readonly metadata: Readonly<Record<string, string>>,
    readonly dataOffset: number, // 8 + header length
    private readonly source: ByteSource,
  ) {}

  info(name: string): TensorInfo {
    const info = this.tensors.get(name);
    if (!info) throw notFound(this.name, name, this.tensors);
    return info;
  }

  /** The tensor's bytes as stored (little-endian); the caller owns the returned array. */
  async getRaw(name: string): Promise<Uint8Array> {
    const bytes = await this.read(this.info(name));
    return this.source.fresh ? bytes : bytes.slice();
  }

  /** F32 as stored, F16 and BF16 widened exactly, F64 rounded to nearest f32. */
  async getF32(name: string): Promise<Float32Array> {
    const info = this.info(name);
    const { dtype } = info;
    if (dtype !== 'F32' && dtype !== 'F16' && dtype !== 'BF16' && dtype !== 'F64') {
      const hint = dtype.startsWith('F8') ? 'f8 is not supported; use getRaw' : 'use getInt32 or getRaw';
      throw fail(
        `${this.name}: tensor ${quote(name)}`,
        'cannot be read as f32',
        'a float dtype',
        dtype,
        hint,
      );
    }
    const bytes = await this.read(info);
    if (dtype === 'F32') return viewAs(Float32Array, bytes, this.source.fresh);
    if (dtype === 'F64') return Float32Array.from(viewAs(Float64Array, bytes, true));
    const halves = viewAs(Uint16Array, bytes, true); // (n,), only read from
    const bits = new Uint32Array(halves.length);
    if (dtype === 'BF16') for (let i = 0; i < halves.length; i++) bits[i] = halves[i] << 16;
    else {
      const table = f16Table();
      for (let i = 0; i < halves.length; i++) bits[i] = table[halves[i]];
    }
    // Built from bits, never through float reads, so NaN payloads survive.
    return new Float32Array(bits.buffer);
  }

  /** I32, U8 and BOOL widened to int32; I64 range-checked (the error names the element). */
  async getInt32(name: string): Promise<Int32Array> {
    const info = this.info(name);
    const { dtype } = info;
    const where = `${this.name}: tensor ${quote(name)}`;
    if (dtype !== 'I64' && dtype !== 'I32' && dtype !== 'U8' && dtype !== 'BOOL') {
      throw fail(where, 'cannot be read as int32', 'I64, I32, U8 or BOOL', dtype, 'use getRaw');
    }
    const bytes = await this.read(info);
    if (dtype === 'I32') return viewAs(Int32Array, bytes, this.source.fresh);
    if (dtype !== 'I64') return Int32Array.from(bytes);
    // I64 as (lo, hi) int32 pairs: the value fits iff hi is lo's sign extension.
    const pairs = viewAs(Int32Array, bytes, true); // (n, 2)
    const out = new Int32Array(pairs.length / 2);
    for (let i = 0; i < out.length; i++) {
      const [lo, hi] = [pairs[2 * i], pairs[2 * i + 1]];
      const wide = () => (BigInt(hi) << 32n) | BigInt(lo >>> 0);
      if (hi !== lo >> 31) throw fail(where, `element ${i} does not fit in int32`, '[-2^31, 2^31)', wide());
      out[i] = lo;
    }
    return out;
  }

  private read(info: TensorInfo): Promise<Uint8Array> {
    return readExact(
      this.source,
      info.byteOffset,
      info.byteLength,
      `${this.name}: tensor ${quote(info.name)}`,
    );
  }
}

/** Reads the header now and tensors on demand. A File's name is used in errors unless fileName is given. */
export async function readSafetensors(
  source: ArrayBuffer | Uint8Array | Blob,
  fileName?: string,
): Promise<SafetensorsFile> {
  const name = fileName ?? (source as Partial<File>).name ?? '<memory>';
  return readSafetensorsSource(toByteSource(source), name);
}

export async function readSafetensorsSource(source: ByteSource, file: string): Promise<SafetensorsFile> {
  const { size } = source;
  if (size < 8) throw fail(file, 'file is too short for a safetensors header', 'at least 8 bytes', size);
  const prefix = await readExact(source, 0, 8, file);
  const declared = new DataView(prefix.buffer, prefix.byteOffset, 8).getBigUint64(0, true);
  const hint = 'the first 8 bytes should be a u64 little-endian header length; is this a safetensors file?';
  // A length past the end is not printed: it is the file's first 8 bytes, text when the file is not safetensors.
  if (declared > BigInt(size - 8)) {
    const expected = `at most ${size - 8} bytes (the file size - 8)`;
    const why = `the file may be truncated, or not be a safetensors file (its first 8 bytes are a u64 little-endian header length)`;
    throw fail(file, 'header length runs past the end of the file', expected, 'more than that', why);
  }
  if (declared > BigInt(MAX_HEADER_BYTES)) {
    throw fail(file, 'header length is over the limit', `at most ${MAX_HEADER_BYTES} bytes`, declared, hint);
  }
  const headerLength = Number(declared);
  const headerBytes = await readExact(source, 8, headerLength, file);
  const dataOffset = 8 + headerLength;
  const { tensors, metadata } = parseHeader(headerBytes, file, dataOffset, size - dataOffset);
  return new SafetensorsFile(file, tensors, metadata, dataOffset, source);
}

async function readExact(source: ByteSource, offset: number, length: number, where: string) {
  const bytes = await source.read(offset, length);
  const hint = 'the file changed or was truncated after its size was taken';
  if (bytes.byteLength !== length) throw fail(where, 'short read', `${length} bytes`, bytes.byteLength, hint);
  return bytes;
}

function toByteSource(source: ArrayBuffer | Uint8Array | Blob): ByteSource {
  if (source instanceof ArrayBuffer || ArrayBuffer.isView(source)) {
    const bytes = ArrayBuffer.isView(source)
      ? new Uint8Array(source.buffer, source.byteOffset, source.byteLength)
      : new Uint8Array(source);
    return { size: bytes.byteLength, fresh: false, read: async (at, n) => bytes.subarray(at, at + n) };
  }
  // Each read slices only the bytes it needs, so a large File is never held in memory whole.
  const read = async (at: number, n: number) => new Uint8Array(await source.slice(at, at + n).arrayBuffer());
  return { size: source.size, fresh: true, read };
}

/** A merged view of a sharded checkpoint (model.safetensors.index.json + shards). */
export class ShardedSafetensors implements TensorStore {
  constructor(
    readonly name: string, // the index file
    readonly shards: ReadonlyMap<string, SafetensorsFile>, // keyed by the weight_map file name
    readonly tensors: ReadonlyMap<string, TensorInfo>,
    readonly metadata: Readonly<Record<string, string>>,
    private readonly owner: ReadonlyMap<string, SafetensorsFile>, // tensor name → its shard
  ) {}

  private shard(name: string): SafetensorsFile {
    const shard = this.owner.get(name);
    if (!shard) throw notFound(this.name, name, this.tensors);
    return shard;
  }

  getF32 = async (name: string) => this.shard(name).getF32(name);
  getInt32 = async (name: string) => this.shard(name).getInt32(name);
  getRaw = async (name: string) => this.shard(name).getRaw(name);
}

/** Browser form: the index as text or a Blob, and every shard named in its weight_map by file name. */
export async function readShardedIndex(
  index: string | Blob,
  shards: ReadonlyMap<string, ArrayBuffer | Uint8Array | Blob>,
  indexName = 'model.safetensors.index.json',
): Promise<ShardedSafetensors> {
  const text = typeof index === 'string' ? index : await index.text();
  return readShardedIndexWith(indexName, text, async (file) => {
    const source = shards.get(file);
    if (!source)
      throw fail(indexName, `shard ${quote(file)} was not given`, show([...shards.keys()]), 'none');
    return readSafetensors(source, file);
  });
}

// The index maps every tensor to one shard; shards and index must agree exactly, both ways.
export async function readShardedIndexWith(
  indexName: string,
  indexText: string,
  openShard: (file: string) => Promise<SafetensorsFile>,
): Promise<ShardedSafetensors> {
  const index = parseJsonText(indexText, (what, got) => fail(indexName, what, '{metadata, weight_map}', got));
  const weightMap = isObject(index) ? index.weight_map : undefined;
  if (!isObject(index) || !isObject(weightMap)) {
    throw fail(indexName, 'weight_map is missing or not an object', '{tensor: shard file}', show(weightMap));
  }
  const wanted = new Map<string, string>(); // tensor → shard file
  for (const [name, file] of Object.entries(weightMap)) {
    // Plain names only: an index must not reach outside its folder.
    if (typeof file !== 'string' || !/^[^/\\\p{Cc}]+$/u.test(file) || file === '.' || file === '..') {
      throw fail(
        indexName,
        `weight_map[${quote(name)}] is not a plain file name`,
        'a shard name',
        show(file),
      );
    }
    wanted.set(name, file);
  }
  const shards = new Map<string, SafetensorsFile>();
  for (const file of [...new Set(wanted.values())].sort()) shards.set(file, await openShard(file));

  const tensors = new Map<string, TensorInfo>();
  const owner = new Map<string, SafetensorsFile>();
  const metadata: Record<string, string> = {};
  for (const [file, shard] of shards) {
    Object.assign(metadata, shard.metadata);
    for (const [name, info] of shard.tensors) {
      if (wanted.get(name) !== file) {
        const what = `tensor ${quote(name)} is not mapped to this shard by ${indexName}`;
        throw fail(shard.name, what, `weight_map[${quote(name)}] = ${quote(file)}`, show(wanted.get(name)));
      }
      tensors.set(name, info);
      owner.set(name, shard);
    }
  }
  for (const [name, file] of wanted) {
    if (!tensors.has(name))
      throw fail(indexName, `weight_map puts tensor ${quote(name)} in ${quote(file)}`, 'it there', 'none');
  }
  // Index metadata (HF's total_size is a number) is stringified to keep Record<string, string>.
  for (const [key, value] of Object.entries(isObject(index.metadata) ? index.metadata : {})) {
    metadata[key] = typeof value === 'string' ? value : JSON.stringify(value);
  }
  return new ShardedSafetensors(indexName, shards, tensors, metadata, owner);
}

export { f16BitsToF32, f32BitsToF16 };

export interface TensorToWrite {
  name: string;
  /** F16 and BF16 round `data` to nearest, ties to even (exact for values that came from them). */
  dtype: 'F32' | 'F16' | 'BF16';
  shape: readonly number[];
  data: Float32Array;
}

/** Header {__metadata__: {format: 'pt', ...metadata}, tensors sorted by name}, space-padded to 8 bytes. */
export function serializeSafetensors(
  tensors: readonly TensorToWrite[],
  metadata: Readonly<Record<string, string>> = {},
): Uint8Array<ArrayBuffer> {
  const meta: Record<string, unknown> = { format: 'pt', ...metadata };
  for (const [key, value] of Object.entries(meta)) {
    if (typeof value !== 'string')
      throw fail('safetensors writer', `metadata ${quote(key)}`, 'a string', show(value));
  }
  const sorted = [...tensors].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  // Built by hand: a JS object would move integer-like tensor names to the front.
  const entries = [`"__metadata__":${JSON.stringify(meta)}`];
  let dataSize = 0;
  sorted.forEach((t, i) => {
    const where = `safetensors writer: tensor ${quote(t.name)}`;
    if (t.name === '__metadata__' || (i > 0 && sorted[i - 1].name === t.name)) {
      throw fail(where, 'name is reserved or repeated', 'a unique tensor name', `${quote(t.name)}`);
    }
    if (t.dtype !== 'F32' && t.dtype !== 'F16' && t.dtype !== 'BF16')
      throw fail(where, 'dtype is not writable', 'F32, F16 or BF16', show(t.dtype));
    if (!t.shape.every(isCount) || byteCount(t.shape, 1) !== t.data.length) {
      const what = `data does not match its shape ${show(t.shape)}`;
      throw new ShapeError(
        `${where}: ${what}, expected ${byteCount(t.shape, 1)} elements, got ${t.data.length}`,
      );
    }
    const bytes = t.data.length * DTYPE_BYTES[t.dtype];
    const entry = { dtype: t.dtype, shape: [...t.shape], data_offsets: [dataSize, dataSize + bytes] };
    entries.push(`${JSON.stringify(t.name)}:${JSON.stringify(entry)}`);
    dataSize += bytes;
  });
  const header = new TextEncoder().encode(`{${entries.join(',')}}`);
  const headerLength = Math.ceil(header.length / 8) * 8;
  const out = new Uint8Array(8 + headerLength + dataSize);
  new DataView(out.buffer).setBigUint64(0, BigInt(headerLength), true);
  out.set(header, 8);
  out.fill(0x20, 8 + header.length, 8 + headerLength);
  let at = 8 + headerLength;
  for (const t of sorted) {
    if (t.dtype === 'F32') {
      out.set(new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength), at); // keeps NaN bits
      at += t.data.byteLength;
    } else {
      const bits = new Uint32Array(t.data.buffer, t.data.byteOffset, t.data.length);
      const halves = new Uint16Array(out.buffer, at, t.data.length); // at is even: every tensor has even size
      const round = t.dtype === 'F16' ? f32BitsToF16 : f32BitsToBf16;
      for (let i = 0; i < bits.length; i++) halves[i] = round(bits[i]);
      at += 2 * t.data.length;
    }
  }
  return out;
}

let f16ToF32: Uint32Array | null = null;
function f16Table(): Uint32Array {
  if (!f16ToF32) {
    f16ToF32 = new Uint32Array(65536); // 256 KiB, built on first F16 read
    for (let h = 0; h < 65536; h++) f16ToF32[h] = f16BitsToF32(h);
  }
  return f16ToF32;
}

type View<T> = {
  new (buffer: ArrayBufferLike, byteOffset: number, length: number): T;
  BYTES_PER_ELEMENT: number;
};

// Wraps the bytes when allowed and aligned, else copies them to a new buffer at offset 0.
function viewAs<T>(View: View<T>, bytes: Uint8Array, mayWrap: boolean): T {
  const size = View.BYTES_PER_ELEMENT;
  const own = mayWrap && bytes.byteOffset % size === 0 ? bytes : bytes.slice();
  return new View(own.buffer, own.byteOffset, own.byteLength / size);
}

function notFound(file: string, name: string, tensors: ReadonlyMap<string, TensorInfo>): WeightsError {
  const near = [...tensors.keys()].find((k) => k.endsWith(`.${name}`) || name.endsWith(`.${k}`));
  const hint = near ? `did you mean ${quote(near)}?` : undefined;
  return fail(
    file,
    `tensor ${quote(name)} not found`,
    `one of ${tensors.size} tensor names`,
    `${quote(name)}`,
    hint,
  );
}
