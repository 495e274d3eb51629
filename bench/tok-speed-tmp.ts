import { readFileSync } from 'node:fs';
import { loadTokenizer } from '../src/tokenizers/load-node.ts';
const text = readFileSync('/work/shared/data/tinyshakespeare/input.txt', 'utf8').slice(0, 1_000_000);
const dir = process.argv[2];
async function main() {
const tok = await loadTokenizer(dir);
for (let r = 0; r < 4; r++) {
  const fresh = await loadTokenizer(dir); // cold cache
  let t = performance.now();
  const ids = fresh.encode(text);
  const cold = performance.now() - t;
  t = performance.now();
  tok.encode(text);
  const warm = performance.now() - t;
  t = performance.now();
  tok.encodeWithOffsets(text);
  const off = performance.now() - t;
  console.log(`${ids.length} ids cold ${(1e3 / cold).toFixed(2)} warm ${(1e3 / warm).toFixed(2)} offsets ${(1e3 / off).toFixed(2)} M chars/s`);
}
}
void main();
