// The package as a user gets it: `npm pack` (prepack builds dist/), then the tarball installed into fresh copies of
// examples/node and examples/web-app with their own dependencies from the npm registry. Each example type-checks
// against the shipped .d.ts (strict, no skipLibCheck), the Node one fine-tunes, saves, reloads and generates under
// plain `node`, the web app builds with Vite and runs in headless Chromium. Skipped, with the reason, when no npm
// registry answers (the installs need one; CI reaches it).
import { execFile, execFileSync } from 'node:child_process';
import {
  cpSync,
  existsSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { findChromium, openDemo, serveStatic } from '../helpers/browser.ts';

function registryUnreachable(): string | null {
  try {
    execFileSync('npm', ['ping', '--fetch-timeout=8000', '--fetch-retries=0'], {
      stdio: 'pipe',
      timeout: 20_000,
    });
    return null;
  } catch (e) {
    const registry = execFileSync('npm', ['config', 'get', 'registry'], { encoding: 'utf8' }).trim();
    return `npm registry ${registry} did not answer \`npm ping\` (${String((e as Error).message).split('\n')[0]})`;
  }
}

const skipReason = registryUnreachable();
if (skipReason) console.warn(`pack.test: skipped: ${skipReason}`);

/** Runs a command; its output goes into the error when it fails. */
function run(cmd: string, args: string[], cwd: string): Promise<{ stdout: string; stderr: string }> {
  return new Promise((done, fail) =>
    execFile(
      cmd,
      args,
      {
        cwd,
        maxBuffer: 1 << 26,
        env: { ...process.env, npm_config_audit: 'false', npm_config_fund: 'false' },
      },
      (error, stdout, stderr) =>
        error
          ? fail(new Error(`${cmd} ${args.join(' ')} in ${cwd}: ${error.message}\n${stdout}\n${stderr}`))
          : done({ stdout, stderr }),
    ),
  );
}

const MODEL = resolve('assets/stories260K-hf');

describe.skipIf(skipReason !== null)('npm pack, installed into the examples', () => {
  let work: string;
  let tarball: string;

  /** A copy of examples/<name> depending on the packed tarball, installed. */
  async function install(name: string): Promise<string> {
    const dir = join(work, name);
    cpSync(resolve('examples', name), dir, { recursive: true, dereference: true });
    const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as {
      dependencies: Record<string, string>;
    };
    pkg.dependencies['webgpu-sft'] = `file:${tarball}`;
    writeFileSync(join(dir, 'package.json'), JSON.stringify(pkg, null, 2));
    await run('npm', ['install', '--prefer-offline', '--no-audit', '--no-fund'], dir);
    return dir;
  }

  beforeAll(async () => {
    work = mkdtempSync(join(tmpdir(), 'webgpu-sft-pack-'));
    await run('npm', ['pack', '--pack-destination', work], resolve('.'));
    tarball = join(
      work,
      readdirSync(work).find((f) => f.endsWith('.tgz'))!,
    );
  });
  afterAll(() => rmSync(work, { recursive: true, force: true }));

  it('packs compiled ESM with types for both entries, under 1 MB, without assets, tests, tools, bench or web', async () => {
    expect(statSync(tarball).size).toBeLessThan(1_000_000);
    const files = (await run('tar', ['tzf', tarball], work)).stdout
      .split('\n')
      .map((f) => f.replace(/^package\//, ''));
    for (const file of [
      'dist/index.js',
      'dist/index.d.ts',
      'dist/advanced.d.ts',
      'dist/node.js',
      'dist/node.d.ts',
      'dist/browser/webgpu-sft.js',
      'dist/browser/advanced.js',
      'dist/cli/main.js',
      'bin/webgpu-sft.js',
    ])
      expect(files).toContain(file);
    expect(files.filter((f) => /^(assets|test|tools|bench|web|examples|scripts)\//.test(f))).toEqual([]);
    const pkg = JSON.parse(
      (await run('tar', ['xzOf', tarball, 'package/package.json'], work)).stdout,
    ) as Record<string, Record<string, unknown>>;
    expect(pkg.dependencies).not.toHaveProperty('tsx');
    expect(pkg.dependencies).not.toHaveProperty('webgpu');
    expect(pkg.peerDependenciesMeta).toEqual({ webgpu: { optional: true } });
  });

  it('examples/node: type-checks (node16, strict) and, under plain node, fine-tunes 2 steps, saves, reloads, generates', async () => {
    const dir = await install('node');
    await run('npx', ['tsc', '-p', '.'], dir);
    const { stdout } = await run('node', ['train.mjs', MODEL, 'out'], dir);
    const losses = [...stdout.matchAll(/^step (\d+): loss ([\d.]+)$/gm)].map((m) => Number(m[2]));
    expect(losses).toHaveLength(2);
    expect(losses.every(Number.isFinite)).toBe(true);
    expect(stdout).toMatch(/^reply: \S.+$/m);
    for (const file of ['model.safetensors', 'config.json', 'tokenizer.model', 'training_args.json'])
      expect(existsSync(join(dir, 'out', file)), file).toBe(true);
    const cli = await run(
      'node',
      ['node_modules/webgpu-sft/bin/webgpu-sft.js', 'generate', '--model', 'out', '--max-new-tokens', '5'],
      dir,
    );
    expect(cli.stdout.trim()).not.toBe('');
  });

  it('examples/web-app: type-checks (Vite vanilla-ts tsconfig, no skipLibCheck), builds, trains in headless Chromium', async (ctx) => {
    const dir = await install('web-app');
    await run('npm', ['run', 'build'], dir);
    const dist = join(dir, 'dist');
    const js = readdirSync(join(dist, 'assets')).filter((f) => f.endsWith('.js'));
    const bytes = js.reduce((s, f) => s + statSync(join(dist, 'assets', f)).size, 0);
    const gzip = js.reduce((s, f) => s + gzipSync(readFileSync(join(dist, 'assets', f))).length, 0);
    console.log(`web-app JS: ${(bytes / 1024).toFixed(1)} KiB, gzip ${(gzip / 1024).toFixed(1)} KiB`);
    for (const f of js)
      expect(readFileSync(join(dist, 'assets', f), 'utf8')).not.toMatch(
        /(from|import\()\s*["'](node:|webgpu["'])/,
      );

    // Node without Dawn (this app does not install it): createDevice says what to install, in one line.
    const probe =
      "import('webgpu-sft/node').then((m) => m.createDevice()).catch((e) => console.log(e.message))";
    expect((await run('node', ['--input-type=module', '-e', probe], dir)).stdout.trim()).toBe(
      "createDevice: WebGPU in Node, expected the npm package 'webgpu' (Dawn), got none installed; run `npm install webgpu`",
    );
    // Tree-shaking: an app that imports only createDevice and generate bundles less than the whole web app.
    writeFileSync(
      join(dir, 'shake.html'),
      '<!doctype html><script type="module" src="/shake.ts"></script>\n',
    );
    writeFileSync(
      join(dir, 'shake.ts'),
      "import { createDevice, generate } from 'webgpu-sft';\nconsole.log(createDevice, generate);\n",
    );
    writeFileSync(
      join(dir, 'shake.config.mjs'),
      "export default { build: { outDir: 'dist-shake', rollupOptions: { input: 'shake.html' } } };\n",
    );
    await run('npx', ['vite', 'build', '--config', 'shake.config.mjs'], dir);
    const shakenFiles = readdirSync(join(dir, 'dist-shake', 'assets')).map((f) =>
      readFileSync(join(dir, 'dist-shake', 'assets', f)),
    );
    const shaken = Buffer.concat(shakenFiles);
    console.log(
      `createDevice + generate only: ${(shaken.length / 1024).toFixed(1)} KiB, gzip ${(gzipSync(shaken).length / 1024).toFixed(1)} KiB`,
    );
    expect(shaken.length).toBeLessThan(bytes * 0.8);

    const chromium = findChromium();
    if (!chromium.path) return ctx.skip(chromium.reason);
    const server = await serveStatic(dist);
    const session = await openDemo(chromium.path, server.url);
    try {
      await session.page.waitForFunction(() => document.body.dataset.result || document.body.dataset.error, {
        timeout: 150_000,
        polling: 250,
      });
      const { error, result } = await session.page.evaluate(() => ({ ...document.body.dataset }));
      expect(error, session.pageErrors.join('\n')).toBeUndefined();
      const r = JSON.parse(result!) as { before: string; after: string; losses: number[]; steps: number };
      expect(r.steps).toBe(8);
      expect(r.losses).toHaveLength(8);
      expect(r.losses.at(-1)!).toBeLessThan(r.losses[0]);
      expect(r.before).not.toBe('');
      expect(r.after).not.toBe(r.before);
    } finally {
      await session.close();
      await server.close();
    }
  });
});
