// Node-only safetensors I/O: read by path (the header, then each tensor by offset, so no byte is read twice),
// sharded checkpoints by index path, and atomic writes (temp name + rename) for checkpoints and config files.
import { randomBytes } from 'node:crypto';
import { open, readFile, rename, rm, stat, type FileHandle } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { WeightsError } from '../util/errors.ts';
import { quote } from './quote.ts';
import {
  readSafetensorsSource,
  readShardedIndexWith,
  serializeSafetensors,
  type ByteSource,
  type SafetensorsFile,
  type ShardedSafetensors,
  type TensorToWrite,
} from './safetensors.ts';

const MAX_READ = 1 << 30; // one fs read is capped near 2 GiB; larger tensors take several

export async function readSafetensorsPath(path: string): Promise<SafetensorsFile> {
  const info = await stat(path);
  if (!info.isFile())
    throw new WeightsError(`${path}: expected a safetensors file, got a folder or other non-file`);
  const { size, mtimeMs } = info;
  return readSafetensorsSource(pathSource(path, size, mtimeMs), path);
}

// Opens the file per read, so a SafetensorsFile holds no descriptor and needs no close(). A size or mtime
// change since the header was read means the offsets no longer apply.
function pathSource(path: string, size: number, mtimeMs: number): ByteSource {
  return {
    size,
    fresh: true,
    async read(offset, length) {
      const handle = await open(path, 'r');
      try {
        const now = await handle.stat();
        if (now.size !== size || now.mtimeMs !== mtimeMs) {
          throw new WeightsError(
            `${path}: file changed after its header was read, expected ${size} bytes at mtime ${mtimeMs}, ` +
              `got ${now.size} bytes at mtime ${now.mtimeMs}`,
            'read it again with readSafetensorsPath',
          );
        }
        const bytes = new Uint8Array(length);
        let done = 0;
        while (done < length) {
          const { bytesRead } = await handle.read(
            bytes,
            done,
            Math.min(length - done, MAX_READ),
            offset + done,
          );
          if (bytesRead === 0) break;
          done += bytesRead;
        }
        return done === length ? bytes : bytes.subarray(0, done);
      } finally {
        await handle.close();
      }
    },
  };
}

/** Shards are resolved beside the index; weight_map may name plain file names only. */
export async function readShardedIndexPath(indexPath: string): Promise<ShardedSafetensors> {
  const text = await readFile(indexPath, 'utf8');
  const dir = dirname(indexPath);
  return readShardedIndexWith(indexPath, text, async (file) => {
    const path = join(dir, file);
    try {
      return await readSafetensorsPath(path);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      throw new WeightsError(
        `${indexPath}: shard ${quote(file)} named in weight_map is missing, expected a file at ${quote(path, "'", 200)}, got none`,
      );
    }
  });
}

/** Writes `<path>.tmp-<pid>-<random>`, syncs, renames over `path`; on failure the temp file is removed. */
export async function writeFileAtomic(path: string, data: Uint8Array | string): Promise<void> {
  const temp = `${path}.tmp-${process.pid}-${randomBytes(6).toString('hex')}`;
  let handle: FileHandle | null = null;
  let created = false;
  try {
    handle = await open(temp, 'wx');
    created = true;
    await handle.writeFile(data);
    await handle.sync(); // the rename must not become visible before the bytes are on disk
    await handle.close();
    handle = null;
    await rename(temp, path);
  } catch (err) {
    await handle?.close().catch(() => undefined);
    if (created) await rm(temp, { force: true });
    throw err;
  }
}

export async function writeSafetensorsFile(
  path: string,
  tensors: readonly TensorToWrite[],
  metadata?: Readonly<Record<string, string>>,
): Promise<void> {
  await writeFileAtomic(path, serializeSafetensors(tensors, metadata));
}
