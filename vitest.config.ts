import { defineConfig } from 'vitest/config';

// Each test file gets its own process (Dawn is a native addon; forks isolate devices). SwiftShader already uses
// both cores, so files run one at a time.
export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    pool: 'forks',
    fileParallelism: false,
    testTimeout: 180_000,
    hookTimeout: 180_000,
    reporters: ['default'],
  },
});
