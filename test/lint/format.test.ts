// Every file under src/ is as the formatter writes it (.prettierrc.json, width 110): `npm run format` fixes one.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import * as prettier from 'prettier';
import { expect, it } from 'vitest';

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? sources(path) : path.endsWith('.ts') ? [path] : [];
  });
}

it('src/ is formatted', async () => {
  const files = sources('src');
  expect(files.length).toBeGreaterThan(100);
  const unformatted: string[] = [];
  for (const path of files) {
    const options = await prettier.resolveConfig(path);
    if (!(await prettier.check(readFileSync(path, 'utf8'), { ...options, filepath: path }))) unformatted.push(path);
  }
  expect(unformatted, 'run npm run format').toEqual([]);
});

it('the check fails on a file the formatter would change', async () => {
  const options = await prettier.resolveConfig('src/index.ts');
  expect(await prettier.check('const  x = 1\n', { ...options, filepath: 'src/x.ts' })).toBe(false);
});
