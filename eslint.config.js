// Typed ESLint: no-floating-promises on (a forgotten mapAsync or onSubmittedWorkDone is a real bug here).
import tseslint from 'typescript-eslint';
import layers from './scripts/eslint-layers.js';

// The layers of src/ (docs/ARCHITECTURE.md): each folder and the folders it may import from, all below it.
const BASE = ['util', 'ops'];
const GPU = [...BASE, 'gpu', 'kernels'];
const MODEL = [...GPU, 'autograd', 'nn', 'io', 'tokenizers'];
const LAYERS = {
  util: [], // RNG, errors: below everything
  ops: [], // dims records shared by kernels and references
  types: [],
  io: ['util'],
  tokenizers: ['util', 'io'],
  gpu: ['util'],
  reference: BASE,
  kernels: [...BASE, 'gpu'],
  check: [...GPU, 'reference'], // the selftest: kernels against their references
  autograd: GPU,
  optim: [...GPU, 'autograd'],
  nn: [...GPU, 'autograd', 'io'],
  models: MODEL,
  sft: [...MODEL, 'optim', 'models'],
  cli: [...MODEL, 'optim', 'models', 'sft', 'check'],
  index: ['*'], // src/index.ts, the public door
  advanced: ['*'], // src/advanced.ts, the lower layers' public door
  node: ['*'], // src/node.ts, the Node entry
};

export default tseslint.config(
  { ignores: ['node_modules/**', 'dist/**', 'web/dist/**', 'bench/results/**', 'tools/**', 'assets/**'] },
  ...tseslint.configs.recommended,
  {
    files: ['**/*.ts'],
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': 'error',
      '@typescript-eslint/await-thenable': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/no-non-null-assertion': 'off',
    },
  },
  {
    // src/cli is the Node command line (its entry point is bin/), so it may use node: modules without the -node suffix.
    files: ['src/**/*.ts', 'web/**/*.ts'],
    plugins: { 'webgpu-sft': { rules: { layers } } },
    rules: { 'webgpu-sft/layers': ['error', { layers: LAYERS, nodeOnly: ['cli'] }] },
  },
);
