// The CLI in a child process as a user runs it (bin/webgpu-sft.js), and small data and model folders for it.
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

export function cli(...args: string[]): Promise<Run> {
  return new Promise((resolve) => {
    execFile('node', ['bin/webgpu-sft.js', ...args], { maxBuffer: 1 << 24 }, (error, stdout, stderr) => {
      const code = error ? (typeof error.code === 'number' ? error.code : 1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

/** A CLI run to interact with: its output so far, and its exit. */
export interface LiveRun {
  child: ChildProcess;
  stdout(): string;
  stderr(): string;
  exit: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

export function cliLive(...args: string[]): LiveRun {
  const child = spawn('node', ['bin/webgpu-sft.js', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.on('close', (code, signal) => resolve({ code, signal })),
  );
  return { child, stdout: () => out, stderr: () => err, exit };
}

/** Resolves when `test` holds, polling every `ms`; rejects after `timeout` ms. */
export async function waitFor(test: () => boolean, what: string, timeout = 60_000, ms = 5): Promise<void> {
  const start = Date.now();
  while (!test()) {
    if (Date.now() - start > timeout) throw new Error(`waitFor: ${what}, expected within ${timeout} ms, got a timeout`);
    await new Promise((r) => setTimeout(r, ms));
  }
}

/** The lines a user sees on stderr, less npm's and the adapter notice. */
export const errorLines = (r: { stderr: string }) =>
  r.stderr
    .split('\n')
    .filter((l) => l.trim() && !l.startsWith('npm warn') && !l.includes('software adapter'));

export function tempFile(name: string, text: string): string {
  const path = join(mkdtempSync(join(tmpdir(), 'cli-')), name);
  writeFileSync(path, text);
  return path;
}

/** `count` short {"text"} rows (a few words each, so every row has targets at any max length). */
export function textRows(count: number): string {
  const words = ['the', 'cat', 'sat', 'on', 'a', 'mat', 'and', 'dog', 'ran', 'to', 'park', 'sun', 'was', 'warm'];
  const lines = [];
  for (let i = 0; i < count; i++) {
    const text = Array.from({ length: 6 + (i % 5) }, (_, j) => words[(i * 7 + j * 3) % words.length]).join(' ');
    lines.push(JSON.stringify({ text: `${text}.` }));
  }
  return tempFile('rows.jsonl', lines.join('\n') + '\n');
}

/** A copy of a model folder with config.json fields replaced. */
export function modelWithConfig(folder: string, change: Record<string, unknown>): string {
  const copy = mkdtempSync(join(tmpdir(), 'model-'));
  cpSync(folder, copy, { recursive: true });
  const config = JSON.parse(readFileSync(join(folder, 'config.json'), 'utf8')) as Record<string, unknown>;
  writeFileSync(join(copy, 'config.json'), JSON.stringify({ ...config, ...change }));
  return copy;
}
