// ESLint rule `webgpu-sft/layers`: a file under src/ imports only from the layers its folder lists (eslint.config.js
// holds the table), never from bench/, test/, scripts/ or web/; `node:` modules only in files named `*-node.ts` (or in
// a folder listed as Node-only). Static imports, `export ... from` and literal `import()` are all checked.
import { isBuiltin } from 'node:module';
import { basename, dirname, relative, resolve, sep } from 'node:path';

const DEV_TREES = ['bench', 'test', 'scripts', 'web'];

/** 'src/gpu/gpu.ts' → 'gpu'; 'src/index.ts' → 'index'; 'bench/node.ts' → 'bench'; outside the repository → null. */
function layerOf(path) {
  const parts = path.split(sep);
  if (parts[0] === '..') return null;
  if (parts[0] !== 'src') return parts.length > 1 ? parts[0] : null;
  return parts.length === 2 ? basename(parts[1], '.ts') : parts[1];
}

export default {
  meta: {
    type: 'problem',
    docs: { description: 'imports follow the layers of src/ (docs/ARCHITECTURE.md)' },
    schema: [
      {
        type: 'object',
        properties: {
          layers: { type: 'object', additionalProperties: { type: 'array', items: { type: 'string' } } },
          nodeOnly: { type: 'array', items: { type: 'string' } },
        },
        required: ['layers'],
        additionalProperties: false,
      },
    ],
  },
  create(context) {
    const { layers, nodeOnly = [] } = context.options[0];
    const file = relative(context.cwd, context.filename);
    const from = layerOf(file);
    const inSrc = file.startsWith(`src${sep}`);
    if (!inSrc && from !== 'web') return {};
    const nodeFile = basename(file).endsWith('-node.ts') || nodeOnly.includes(from);

    function check(node, spec) {
      if (typeof spec !== 'string') return;
      if (isBuiltin(spec)) {
        if (inSrc && !nodeFile) {
          context.report({ node, message: `${file}: imports '${spec}', expected Node modules only in files named *-node.ts (browser bundles load the rest)` });
        }
        return;
      }
      if (!spec.startsWith('.')) return;
      const target = relative(context.cwd, resolve(dirname(context.filename), spec));
      const to = layerOf(target);
      if (DEV_TREES.includes(to) && to !== from) {
        context.report({ node, message: `${file}: imports ${target}, expected nothing shipped to import ${DEV_TREES.join('/')}` });
        return;
      }
      if (from === 'web') {
        if (basename(target).endsWith('-node.ts')) context.report({ node, message: `${file}: imports ${target}, expected the page to import no *-node.ts file` });
        return;
      }
      if (to === null || to === from || !target.startsWith(`src${sep}`)) return;
      const allowed = layers[from];
      if (allowed === undefined) {
        context.report({ node, message: `${file}: folder '${from}' is not in the layer table of eslint.config.js, expected an entry for it` });
      } else if (!allowed.includes(to) && !allowed.includes('*')) {
        const expected = allowed.length ? `only ${allowed.join(', ')}` : 'nothing else in src';
        context.report({ node, message: `${file}: imports ${target}, expected ${from} to import ${expected} (a layer imports only from layers below it)` });
      }
    }

    return {
      ImportDeclaration: (node) => check(node, node.source.value),
      ExportNamedDeclaration: (node) => node.source && check(node, node.source.value),
      ExportAllDeclaration: (node) => check(node, node.source.value),
      ImportExpression: (node) => node.source.type === 'Literal' && check(node, node.source.value),
    };
  },
};
