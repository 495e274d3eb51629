// The bench page (bench/page) for `npm run bench:browser`: the suite and TF.js bundled for the browser, with the
// bundled GPT-2 and dialogue data copied under files/. The launcher builds it into a temporary folder.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { defineConfig, type Plugin } from 'vite';
import { browserOnly } from '../vite.config.ts';

const ROOT = fileURLToPath(new URL('..', import.meta.url));

/** URL under the page → file in the repository. */
const FILES: Record<string, string> = {
  'files/gpt2-shakespeare/config.json': 'assets/gpt2-shakespeare/config.json',
  'files/gpt2-shakespeare/model.safetensors': 'assets/gpt2-shakespeare/model.safetensors',
  'files/gpt2-shakespeare/vocab.json': 'assets/gpt2-shakespeare/vocab.json',
  'files/gpt2-shakespeare/merges.txt': 'assets/gpt2-shakespeare/merges.txt',
  'files/dialogue/train.jsonl': 'assets/sft/dialogue/train.jsonl',
};

function benchFiles(): Plugin {
  return {
    name: 'webgpu-sft:bench-files',
    generateBundle() {
      for (const [fileName, file] of Object.entries(FILES)) {
        this.emitFile({ type: 'asset', fileName, source: readFileSync(ROOT + file) });
      }
    },
  };
}

export default defineConfig({
  root: fileURLToPath(new URL('./page', import.meta.url)),
  base: './',
  publicDir: false,
  plugins: [browserOnly(), benchFiles()],
  build: { emptyOutDir: true, target: 'es2022', chunkSizeWarningLimit: 4096 },
});
