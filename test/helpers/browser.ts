// Headless Chromium for the demo page (browser tests, screenshot script): find the browser, build web/ to
// web/dist, serve it from 127.0.0.1 on a random port (navigator.gpu needs a secure context; localhost is one),
// and launch Chromium with WebGPU on SwiftShader when there is no GPU.
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { extname, join, normalize, resolve } from 'node:path';
import puppeteer, { type Browser, type Page } from 'puppeteer-core';
import { build } from 'vite';

const CANDIDATES = [
  '/usr/bin/chromium',
  '/usr/bin/chromium-browser',
  '/usr/bin/google-chrome',
  '/opt/google/chrome/chrome',
];

/** The browser to drive: $CHROMIUM_PATH, else the first installed candidate; a reason when there is none. */
export function findChromium(): { path: string | null; reason?: string } {
  const fromEnv = process.env.CHROMIUM_PATH;
  if (fromEnv)
    return existsSync(fromEnv)
      ? { path: fromEnv }
      : { path: null, reason: `CHROMIUM_PATH=${fromEnv} does not exist` };
  const path = CANDIDATES.find((p) => existsSync(p));
  return path
    ? { path }
    : {
        path: null,
        reason: `no Chromium at ${CANDIDATES.join(', ')} (apt-get install chromium, or set CHROMIUM_PATH)`,
      };
}

export const WEB_DIST = resolve('web/dist');

/** `npm run web:build`, in process. */
export async function buildDemo(): Promise<void> {
  await build({ configFile: resolve('web/vite.config.ts'), logLevel: 'warn' });
}

/** The library bundle of `npm run build` (without types), written to `outDir`. */
export async function buildLibrary(outDir: string): Promise<void> {
  await build({ configFile: resolve('vite.config.ts'), logLevel: 'warn', build: { outDir } });
}

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript',
  '.json': 'application/json',
  '.map': 'application/json',
  '.css': 'text/css',
};

/** A static file server over `root` on 127.0.0.1, random port; CORS open, so pages on other ports can import. */
export async function serveStatic(root: string): Promise<{ url: string; close(): Promise<void> }> {
  const server = createServer((req, res) => {
    const path = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname);
    const file = normalize(join(root, path.endsWith('/') ? `${path}index.html` : path));
    if (!file.startsWith(root)) return void res.writeHead(403).end();
    readFile(file).then(
      (body) =>
        res
          .writeHead(200, {
            'Content-Type': TYPES[extname(file)] ?? 'application/octet-stream',
            'Access-Control-Allow-Origin': '*',
          })
          .end(body),
      () => res.writeHead(404).end(`not found: ${path}`),
    );
  });
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/`,
    close: () => new Promise((done) => server.close(() => done())),
  };
}

// WebGPU in headless Chromium: Vulkan on SwiftShader (works without any GPU), no background traffic.
const FLAGS = [
  '--no-sandbox',
  '--enable-unsafe-webgpu',
  '--enable-features=Vulkan',
  '--use-vulkan=swiftshader',
  '--use-webgpu-adapter=swiftshader',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

export interface Session {
  browser: Browser;
  page: Page;
  /** Console errors and page exceptions, for failure messages. */
  pageErrors: string[];
  close(): Promise<void>;
}

/** Chromium (fresh profile) with one page, the demo at `url` loaded. */
export async function openDemo(
  executablePath: string,
  url: string,
  viewport = { width: 1100, height: 1400 },
): Promise<Session> {
  const userDataDir = mkdtempSync(join(tmpdir(), 'webgpu-sft-chromium-'));
  const browser = await puppeteer.launch({
    executablePath,
    headless: true,
    userDataDir,
    args: FLAGS,
    defaultViewport: viewport,
  });
  const page = await browser.newPage();
  const pageErrors: string[] = [];
  page.on('console', (m) => void (m.type() === 'error' && pageErrors.push(m.text())));
  page.on('pageerror', (e) => void pageErrors.push(String(e)));
  await page.goto(url, { waitUntil: 'load' });
  return {
    browser,
    page,
    pageErrors,
    async close() {
      await browser.close();
      rmSync(userDataDir, { recursive: true, force: true });
    },
  };
}

/** Waits until `window.demo.phase` is one of `phases` (the page's actions run one at a time). */
export async function waitForPhase(page: Page, phases: string[], timeoutMs: number): Promise<void> {
  await page.waitForFunction(
    (p: string[]) => p.includes((globalThis as unknown as { demo?: { phase: string } }).demo?.phase ?? ''),
    { timeout: timeoutMs, polling: 200 },
    phases,
  );
}
