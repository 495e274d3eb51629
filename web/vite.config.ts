// The demo page: `npm run web:dev` serves web/ with the bundled model and data under bundled/; `npm run web:build`
// writes web/dist (the page plus copies of those files), servable by any static server.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { defineConfig, type Plugin } from 'vite';
import { browserOnly } from '../vite.config.ts';

const ROOT = fileURLToPath(new URL('..', import.meta.url));

/** URL under the page → file in the repository. Only these are served or copied; the rest of assets/ stays out. */
export const BUNDLED: Record<string, string> = {
  'bundled/gpt2-shakespeare/config.json': 'assets/gpt2-shakespeare/config.json',
  'bundled/gpt2-shakespeare/model.safetensors': 'assets/gpt2-shakespeare/model.safetensors',
  'bundled/gpt2-shakespeare/vocab.json': 'assets/gpt2-shakespeare/vocab.json',
  'bundled/gpt2-shakespeare/merges.txt': 'assets/gpt2-shakespeare/merges.txt',
  'bundled/dialogue/train.jsonl': 'assets/sft/dialogue/train.jsonl',
  'bundled/dialogue/val.jsonl': 'assets/sft/dialogue/val.jsonl',
  'bundled/speakers/train.jsonl': 'assets/sft/speakers/train.jsonl',
  'bundled/speakers/val.jsonl': 'assets/sft/speakers/val.jsonl',
};

function bundledAssets(): Plugin {
  return {
    name: 'webgpu-sft:bundled-assets',
    configureServer(server) {
      server.middlewares.use((req, res, next) => {
        const path = decodeURIComponent((req.url ?? '').split('?')[0]).replace(/^\/+/, '');
        const file = BUNDLED[path];
        if (!file) return next();
        res.setHeader('Content-Type', 'application/octet-stream');
        res.end(readFileSync(ROOT + file));
      });
    },
    generateBundle() {
      for (const [fileName, file] of Object.entries(BUNDLED)) {
        this.emitFile({ type: 'asset', fileName, source: readFileSync(ROOT + file) });
      }
    },
  };
}

export default defineConfig({
  root: fileURLToPath(new URL('.', import.meta.url)),
  base: './',
  appType: 'mpa', // unknown paths are 404s, not index.html
  publicDir: false,
  plugins: [browserOnly(), bundledAssets()],
  server: { host: '127.0.0.1' },
  preview: { host: '127.0.0.1' },
  build: { outDir: 'dist', emptyOutDir: true, target: 'es2022', sourcemap: true },
  // The engine runs in a module Worker (engine-worker.ts), bundled as ES modules like the page.
  worker: { format: 'es', plugins: () => [browserOnly()] },
});
