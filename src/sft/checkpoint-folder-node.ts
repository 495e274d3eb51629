// The file-system side of a checkpoint as one unit: synced writes with their SHA-256, the manifest written last
// (checkpoint.json: step, size and digest of every state file), its verification, the folders beside --out that a
// checkpoint is built in (`.<name>.partial-<pid>-<id>`) and swapped through (`.<name>.old-<pid>-<id>`), the recovery
// of those a killed run left, and the checks on --out before a run starts.
import { createHash, randomBytes } from 'node:crypto';
import { constants, createReadStream, existsSync, statSync } from 'node:fs';
import {
  copyFile,
  link,
  mkdir,
  open,
  readdir,
  readFile,
  rename,
  rm,
  stat,
  writeFile,
} from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { InputError } from '../util/errors.ts';

export const MANIFEST = 'checkpoint.json';
const FORMAT = 'webgpu-sft checkpoint';

export interface FileDigest {
  bytes: number;
  sha256: string;
}

export interface Manifest {
  step: number | null;
  files: Record<string, FileDigest>;
}

/** A fresh folder name beside `folder`, hidden, that recovery recognises by its kind. */
export function siblingPath(folder: string, kind: 'partial' | 'old'): string {
  const abs = resolve(folder);
  return join(dirname(abs), `.${basename(abs)}.${kind}-${process.pid}-${randomBytes(4).toString('hex')}`);
}

/** Write a file and flush it to disk before returning its size and digest. */
export async function writeSynced(path: string, data: Uint8Array | string): Promise<FileDigest> {
  const handle = await open(path, 'wx');
  try {
    await handle.writeFile(data);
    await handle.sync();
  } finally {
    await handle.close();
  }
  const bytes = typeof data === 'string' ? Buffer.byteLength(data) : data.byteLength;
  return { bytes, sha256: createHash('sha256').update(data).digest('hex') };
}

/**
 * Put a file into a checkpoint being built: a hard link to a file of the previous checkpoint (those are never modified
 * in place, so sharing is safe and costs nothing), else a copy flushed to disk. Returns its size and digest.
 */
export async function copySynced(from: string, to: string, options: { link: boolean }): Promise<FileDigest> {
  let linked = false;
  if (options.link)
    linked = await link(from, to).then(
      () => true,
      () => false,
    );
  if (!linked) {
    await copyFile(from, to, constants.COPYFILE_EXCL);
    const handle = await open(to, 'r+');
    try {
      await handle.sync();
    } finally {
      await handle.close();
    }
  }
  return fileDigest(to);
}

async function fileDigest(path: string): Promise<FileDigest> {
  const hash = createHash('sha256');
  let bytes = 0;
  for await (const chunk of createReadStream(path) as AsyncIterable<Buffer>) {
    hash.update(chunk);
    bytes += chunk.length;
  }
  return { bytes, sha256: hash.digest('hex') };
}

/** fsync a folder so the renames and files in it are durable (a no-op where folders cannot be opened). */
export async function syncFolder(folder: string): Promise<void> {
  try {
    const handle = await open(folder, 'r');
    try {
      await handle.sync();
    } finally {
      await handle.close();
    }
  } catch {
    // Some platforms do not sync folders; the rename order still holds.
  }
}

export async function writeManifest(
  folder: string,
  step: number | null,
  files: Map<string, FileDigest>,
): Promise<void> {
  const manifest = { format: FORMAT, version: 1, step, files: Object.fromEntries([...files].sort()) };
  await writeSynced(join(folder, MANIFEST), JSON.stringify(manifest, null, 2) + '\n');
}

async function readManifest(folder: string): Promise<Manifest> {
  const path = join(folder, MANIFEST);
  if (!existsSync(path))
    throw new InputError(
      `${folder}: ${MANIFEST}, expected the manifest every checkpoint is completed by, got none`,
      'the folder is not a complete checkpoint of this engine (or was written by a version before 0.2)',
    );
  let raw: unknown;
  try {
    raw = JSON.parse(await readFile(path, 'utf8'));
  } catch {
    throw new InputError(`${path}: expected JSON, got text that does not parse`);
  }
  const o = raw as { format?: unknown; step?: unknown; files?: unknown };
  const files = o?.files as Record<string, Partial<FileDigest>> | undefined;
  const stepOk =
    o?.step === null || (typeof o?.step === 'number' && Number.isSafeInteger(o.step) && o.step >= 0);
  const filesOk =
    typeof files === 'object' &&
    files !== null &&
    Object.values(files).every((f) => typeof f?.bytes === 'number' && typeof f.sha256 === 'string');
  if (o?.format !== FORMAT || !stepOk || !filesOk)
    throw new InputError(
      `${path}: expected a ${FORMAT} manifest (format, step, files with bytes and sha256), got another object`,
    );
  return { step: o.step as number | null, files: files as Record<string, FileDigest> };
}

/**
 * Check that a folder is one complete checkpoint: every file the manifest lists is there with its size (and, with
 * hash, its SHA-256), so files of different checkpoints are never mixed.
 */
export async function verifyCheckpoint(folder: string, options: { hash: boolean }): Promise<Manifest> {
  const manifest = await readManifest(folder);
  for (const [name, want] of Object.entries(manifest.files)) {
    const path = join(folder, name);
    if (name.includes('/') || name.includes('\\') || name.startsWith('.'))
      throw new InputError(
        `${join(folder, MANIFEST)}: file name, expected a plain name, got ${JSON.stringify(name.slice(0, 60))}`,
      );
    const got = existsSync(path) ? (await stat(path)).size : null;
    const mixed = 'the folder mixes files of different checkpoints or was changed after it was written';
    if (got !== want.bytes)
      throw new InputError(
        `${path}: size, expected ${want.bytes} bytes as ${MANIFEST} records, got ${got === null ? 'no file' : `${got} bytes`}`,
        mixed,
      );
    if (options.hash && (await fileDigest(path)).sha256 !== want.sha256)
      throw new InputError(
        `${path}: SHA-256, expected ${want.sha256.slice(0, 16)}… as ${MANIFEST} records, got another`,
        mixed,
      );
  }
  return manifest;
}

const isAlive = (pid: number) => {
  if (pid === process.pid) return false; // our own leftovers from an earlier failure
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
};

/**
 * Put right what a run killed while checkpointing into `folder` left beside it: when the folder itself is gone (killed
 * between the two renames), the complete new checkpoint (or else the old one) becomes the folder; the other leftovers
 * are removed. Folders of a process still running are left alone. Returns what was done, one line each.
 */
export async function recoverCheckpointFolder(folder: string): Promise<string[]> {
  const abs = resolve(folder);
  const parent = dirname(abs);
  const prefix = `.${basename(abs)}.`;
  if (!existsSync(parent) || !statSync(parent).isDirectory()) return []; // --out's own checks say what is wrong
  const leftovers: { path: string; kind: string }[] = [];
  for (const name of await readdir(parent)) {
    const m = /^(partial|old)-(\d+)-[0-9a-f]+$/.exec(
      name.startsWith(prefix) ? name.slice(prefix.length) : '',
    );
    if (m && !isAlive(Number(m[2]))) leftovers.push({ path: join(parent, name), kind: m[1] });
  }
  const done: string[] = [];
  if (!existsSync(abs)) {
    const complete = async (path: string) =>
      verifyCheckpoint(path, { hash: true }).then(
        () => true,
        () => false,
      );
    for (const kind of ['partial', 'old']) {
      for (const l of leftovers.filter((x) => x.kind === kind)) {
        if (existsSync(abs) || !(await complete(l.path))) continue;
        await rename(l.path, abs);
        done.push(
          `${folder}: restored the checkpoint from ${basename(l.path)}, left by a run killed while switching it in`,
        );
      }
    }
  }
  for (const l of leftovers) {
    if (!existsSync(l.path)) continue;
    await rm(l.path, { recursive: true, force: true });
    done.push(`${folder}: removed ${basename(l.path)}, an unfinished checkpoint left by a killed run`);
  }
  return done;
}

/**
 * The checks on --out before anything is loaded: a folder (or nothing yet), writable, and empty unless the run resumes
 * it or replaces an earlier checkpoint with overwrite. Returns the recovery notes of recoverCheckpointFolder.
 */
export async function prepareOutFolder(
  out: string,
  options: { resume: boolean; overwrite: boolean; flag?: string },
): Promise<string[]> {
  const flag = options.flag ?? '--out';
  if (existsSync(out) && !statSync(out).isDirectory())
    throw new InputError(`${flag}: ${out}, expected a folder, got a file`);
  const abs = resolve(out);
  try {
    await mkdir(dirname(abs), { recursive: true });
    const probe = join(dirname(abs), `.${basename(abs)}.probe-${process.pid}`);
    await writeFile(probe, '');
    await rm(probe, { force: true });
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    throw new InputError(
      `${flag}: ${out}, expected a folder this process can write in, got ${err.code ?? 'an error'} (${fsReason(err)})`,
    );
  }
  const notes = await recoverCheckpointFolder(out);
  if (!existsSync(out) || options.resume) return notes;
  const entries = (await readdir(out)).filter((n) => n !== '.DS_Store');
  if (entries.length === 0) return notes;
  if (!options.overwrite)
    throw new InputError(
      `${flag}: ${out}, expected an empty or new folder, got one holding ${entries.length} file(s)`,
      'continue the run checkpointed there with --resume, or replace it with --overwrite',
    );
  // --overwrite deletes the folder: only a checkpoint of this engine, holding nothing else (no subfolder, no file a
  // checkpoint does not write), may go; a Hugging Face Trainer's output folder also has a trainer_state.json.
  const ours = existsSync(join(out, MANIFEST)) ? Object.keys((await readManifest(out)).files) : [];
  const foreign = entries.find(
    (n) => !(ours.includes(n) || CHECKPOINT_FILES.has(n)) || statSync(join(out, n)).isDirectory(),
  );
  if (!existsSync(join(out, 'trainer_state.json')) || foreign !== undefined)
    throw new InputError(
      `${flag}: ${out}, expected an earlier checkpoint of this engine for --overwrite to replace, got a folder that is not one${foreign === undefined ? '' : ` (it holds '${foreign.slice(0, 60)}')`}`,
      'choose another --out; --overwrite only replaces a checkpoint folder holding nothing else',
    );
  return notes;
}

/** Every file a checkpoint folder may hold (what saveCheckpoint writes), for --overwrite's check. */
const CHECKPOINT_FILES = new Set([
  MANIFEST, 'model.safetensors', 'config.json', 'adapter_model.safetensors', 'adapter_config.json', 'training_args.json',
  'optimizer.safetensors', 'trainer_state.json', 'best.safetensors', 'resume.safetensors', 'metrics.jsonl', 'vocab.json',
  'merges.txt', 'tokenizer.json', 'tokenizer.model', 'tokenizer_config.json', 'special_tokens_map.json',
  'generation_config.json', '.DS_Store',
]); // prettier-ignore

const FS_REASONS: Record<string, string> = {
  EACCES: 'permission denied',
  EPERM: 'operation not permitted',
  EROFS: 'read-only file system',
  ENOSPC: 'no space left on the device',
  EDQUOT: 'disk quota exceeded',
  ENOENT: 'no such file or folder',
  ENOTDIR: 'a path component is a file, not a folder',
  EISDIR: 'a folder where a file was expected',
  EEXIST: 'already exists',
  ENOTEMPTY: 'folder not empty',
  EMFILE: 'too many open files',
  ENAMETOOLONG: 'name too long',
  EIO: 'input/output error',
};

/** A file-system error in words. */
export function fsReason(err: NodeJS.ErrnoException): string {
  return (err.code && FS_REASONS[err.code]) ?? err.message.split('\n')[0];
}

/** The file-system errors a user can cause or fix (paths, permissions, space), as opposed to faults in the engine. */
export function isUserFsError(e: unknown): e is NodeJS.ErrnoException {
  const err = e as NodeJS.ErrnoException;
  return (
    typeof err?.code === 'string' && Object.hasOwn(FS_REASONS, err.code) && typeof err.syscall === 'string'
  );
}
