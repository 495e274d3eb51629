// Browser library build: `npm run build` bundles the entries src/index.ts and src/advanced.ts to dist/browser/
// (webgpu-sft.js, advanced.js and one module per source file, so an app's bundler keeps only the modules it uses).
// Node's device path (src/gpu/adapter-node.ts: node:fs and Dawn from the npm `webgpu` package) is swapped for a stub
// that throws, so the bundle holds no `node:` import and no Dawn; in a browser createDevice never reaches it.
import { fileURLToPath } from 'node:url';
import { defineConfig, type Plugin } from 'vite';

const NODE_ADAPTER = /[\\/]gpu[\\/]adapter-node\.ts$/;
const STUB_ID = '\0webgpu-sft:adapter-node-stub';
const ERRORS = fileURLToPath(new URL('./src/util/errors.ts', import.meta.url));
const NODE_ONLY = /^(node:|webgpu$)/;

/**
 * Resolves src/gpu/adapter-node.ts to a stub for browser bundles (the library and the demo page share it), and
 * fails the build if any chunk still imports a `node:` module or Dawn.
 */
export function browserOnly(): Plugin {
  return {
    name: 'webgpu-sft:browser-only',
    enforce: 'pre',
    async resolveId(source, importer, options) {
      if (!importer || !source.endsWith('adapter-node.ts')) return null;
      const resolved = await this.resolve(source, importer, { ...options, skipSelf: true });
      return resolved && NODE_ADAPTER.test(resolved.id) ? STUB_ID : null;
    },
    load(id) {
      if (id !== STUB_ID) return null;
      return [
        `import { DeviceError } from ${JSON.stringify(ERRORS)};`,
        'export async function requestNodeAdapter() {',
        "  throw new DeviceError('createDevice: navigator.gpu, expected WebGPU in this browser, got none',",
        "    'use a WebGPU browser (Chrome 113+) on https or http://127.0.0.1; ' +",
        "    'in Node, the package node condition selects dist/index.js, not this browser bundle');",
        '}',
      ].join('\n');
    },
    generateBundle(_options, bundle) {
      for (const chunk of Object.values(bundle)) {
        if (chunk.type !== 'chunk') continue;
        const bad = [...chunk.imports, ...chunk.dynamicImports].filter((m) => NODE_ONLY.test(m));
        const inlined = Object.keys(chunk.modules).filter((m) => /[\\/]node_modules[\\/]webgpu[\\/]/.test(m));
        const found = [...bad, ...inlined].join(', ');
        if (found)
          this.error(`${chunk.fileName}: imports, expected no node: modules and no Dawn, got ${found}`);
      }
    },
  };
}

export default defineConfig({
  plugins: [browserOnly()],
  build: {
    outDir: 'dist/browser',
    emptyOutDir: true,
    target: 'es2022',
    // No source maps here: the modules are kept one per source file and unminified, so they read as the source does;
    // the Node build (tsc) keeps its maps and declaration maps into the shipped src/. Keeps the tarball under 1 MB.
    sourcemap: false,
    lib: { entry: { 'webgpu-sft': 'src/index.ts', advanced: 'src/advanced.ts' }, formats: ['es'] },
    // Left external so a leak shows up in generateBundle's check instead of being shimmed.
    rollupOptions: {
      external: [/^node:/, 'webgpu'],
      output: {
        preserveModules: true,
        preserveModulesRoot: 'src',
        // wgsl_reflect's module goes to vendor/: a node_modules folder inside a package is easily dropped by tools.
        entryFileNames: (chunk) => `${chunk.name.replace(/node_modules/g, 'vendor')}.js`,
      },
    },
  },
});
