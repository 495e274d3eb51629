// `npm run screenshot [-- --steps N --out PATH]`: builds the demo page, opens it in headless Chromium, runs a short
// self-test, trains the bundled GPT-2 on the dialogue data for N steps, and saves a full-page PNG (default
// docs/demo.png) with the loss chart. Exits 1 when the page shows an error.
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { parseArgs } from 'node:util';
import type { DemoState } from '../web/main.ts';
import {
  buildDemo,
  findChromium,
  openDemo,
  serveStatic,
  waitForPhase,
  WEB_DIST,
} from '../test/helpers/browser.ts';

const { values } = parseArgs({
  options: { steps: { type: 'string', default: '24' }, out: { type: 'string', default: 'docs/demo.png' } },
});
const chromium = findChromium();
if (!chromium.path) {
  console.error(`screenshot: ${chromium.reason}`);
  process.exit(1);
}

const started = performance.now();
const elapsed = () => `${((performance.now() - started) / 1000).toFixed(1)} s`;
await buildDemo();
const server = await serveStatic(WEB_DIST);
const session = await openDemo(chromium.path, server.url, { width: 1100, height: 1000 });
const { page } = session;
const state = () => page.evaluate(() => (globalThis as unknown as { demo: DemoState }).demo);
try {
  await waitForPhase(page, ['ready', 'failed'], 60_000);
  await page.click('#selftest-run');
  await waitForPhase(page, ['ready'], 120_000);
  console.log(`self-test done (${elapsed()})`);
  const fields = {
    steps: values.steps,
    'batch-size': '4',
    'max-length': '64',
    'eval-every': '4',
    'val-rows': '8',
  };
  for (const [id, value] of Object.entries(fields)) {
    await page.$eval(`#${id}`, (el, v) => void ((el as HTMLInputElement).value = v), value);
  }
  await page.click('#train');
  await waitForPhase(page, ['ready'], 590_000);
  const s = await state();
  if (s.errors.length) throw new Error(`the page shows errors:\n${s.errors.join('\n')}`);
  const losses = s.train.map((p) => p.loss.toFixed(3)).join(' ');
  console.log(`trained ${s.done?.steps} steps (${elapsed()}): train loss ${losses}`);
  mkdirSync(dirname(values.out), { recursive: true });
  await page.screenshot({ path: values.out as `${string}.png`, fullPage: true });
  console.log(`wrote ${values.out}`);
} catch (e) {
  console.error(`screenshot: ${(e as Error).message}`);
  process.exitCode = 1;
} finally {
  await session.close();
  await server.close();
}
