#!/usr/bin/env node
// The CLI. The package runs its compiled JavaScript (dist/); a checkout of the repository (tsconfig.json, which the
// package leaves out, and tsx among the dev dependencies) runs the TypeScript sources through tsx's loader, so no
// stale build is ever used there.
import { existsSync } from 'node:fs';

const source = new URL('../src/cli/main.ts', import.meta.url);
if (existsSync(new URL('../tsconfig.json', import.meta.url))) {
  const { register } = await import('tsx/esm/api');
  register();
  await import(source.href);
} else {
  await import('../dist/cli/main.js');
}
