// `npm run bench:browser`: builds the bench page (bench/page) with Vite into a temporary folder, serves it from
// 127.0.0.1, runs the suite in headless Chromium (WebGPU; SwiftShader without a GPU) and prints the page's table
// here as it goes; JSON to bench/results/chromium.json. Flags as `npm run bench`: --quick, --wall, --filter=TEXT.
import { mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { build } from 'vite';
import { findChromium, openDemo, serveStatic } from '../test/helpers/browser.ts';
import type { BenchPageState } from './page/main.ts';
import { parseSuiteArgs, type BenchReport } from './suite.ts';
import { finishReport } from './report-node.ts';

const ROOT = new URL('../', import.meta.url);

/** Builds and serves the page, runs it with `args`; `onLine` gets each table line as the page prints it. */
export async function runBenchPage(
  args: string[],
  onLine: (line: string) => void,
  timeoutMs = 60 * 60_000,
): Promise<BenchReport> {
  parseSuiteArgs(args); // refuse bad flags before building anything
  const chromium = findChromium();
  if (!chromium.path) throw new Error(`bench:browser: Chromium, expected one, got none: ${chromium.reason}`);
  const outDir = mkdtempSync(join(tmpdir(), 'webgpu-sft-bench-page-'));
  try {
    await build({
      configFile: fileURLToPath(new URL('bench/vite.config.ts', ROOT)),
      logLevel: 'warn',
      build: { outDir },
    });
    const server = await serveStatic(outDir);
    try {
      const query = args.map((a) => `arg=${encodeURIComponent(a)}`).join('&');
      const session = await openDemo(chromium.path, `${server.url}index.html?${query}`);
      try {
        return await follow(session.page, onLine, timeoutMs, session.pageErrors);
      } finally {
        await session.close();
      }
    } finally {
      await server.close();
    }
  } finally {
    rmSync(outDir, { recursive: true, force: true });
  }
}

type Page = Awaited<ReturnType<typeof openDemo>>['page'];

// Polls window.bench (short evaluate calls: a run takes many minutes, longer than a CDP call may wait).
async function follow(
  page: Page,
  onLine: (line: string) => void,
  timeoutMs: number,
  errors: string[],
): Promise<BenchReport> {
  const started = Date.now();
  let shown = 0;
  for (;;) {
    const s = await page.evaluate((from: number) => {
      const b = (globalThis as unknown as { bench?: BenchPageState }).bench;
      return b ? { phase: b.phase, lines: b.lines.slice(from), error: b.error } : null;
    }, shown);
    for (const line of s?.lines ?? []) onLine(line);
    shown += s?.lines.length ?? 0;
    if (s?.phase === 'failed') throw new Error(`bench page: failed, expected a report, got:\n${s.error}`);
    if (s?.phase === 'done') {
      return page.evaluate(() => (globalThis as unknown as { bench: BenchPageState }).bench.report!);
    }
    if (Date.now() - started > timeoutMs) {
      const tail = errors.slice(-3).join('\n');
      throw new Error(
        `bench page: still ${s?.phase ?? 'loading'} after ${timeoutMs / 1000} s, expected a report${tail ? `; page errors:\n${tail}` : ''}`,
      );
    }
    await new Promise((done) => setTimeout(done, 1000));
  }
}

async function main(): Promise<number> {
  const args = process.argv.slice(2);
  const loadStart = loadavg();
  const report = await runBenchPage(args, (line) => console.log(line));
  return finishReport(report, 'chromium.json', loadStart);
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  process.exitCode = await main();
}
