// Size budgets (after tinygrad's sz.py): lines per file and folder; fails when a budget is exceeded.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';

const BUDGETS: { test: (path: string) => boolean; max: number; what: string }[] = [
  { test: (p) => p.startsWith('src/kernels/'), max: 250, what: 'kernel file' },
  { test: (p) => p.startsWith('src/'), max: 400, what: 'src file' },
];
// The autograd core (tape, tensor, op table, checkpointing) stays small enough to read in one sitting; 650 lines held
// the op table and tape, 800 left room for recompute-in-backward and the fused ops' table entries. Both counted lines
// up to ~200 wide; the same code at the formatter's width (.prettierrc, 110) is 1022 lines, hence 1050.
const FOLDER_BUDGETS: Record<string, number> = { 'src/autograd': 1050 };

function walk(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? walk(path) : path.endsWith('.ts') ? [path] : [];
  });
}

let failed = false;
const folders = new Map<string, number>();
const rows: [string, number][] = [];
for (const path of walk('src').sort()) {
  const lines = readFileSync(path, 'utf8').split('\n').filter((l) => l.trim() !== '').length;
  rows.push([path, lines]);
  const folder = path.slice(0, path.lastIndexOf('/'));
  folders.set(folder, (folders.get(folder) ?? 0) + lines);
  const budget = BUDGETS.find((b) => b.test(path));
  if (budget && lines > budget.max) {
    console.error(`sz: ${path}: ${budget.what} length, expected ≤ ${budget.max} lines, got ${lines}`);
    failed = true;
  }
}
for (const [folder, lines] of [...folders].sort()) {
  console.log(`${String(lines).padStart(6)}  ${folder}/`);
  const max = FOLDER_BUDGETS[folder];
  if (max !== undefined && lines > max) {
    console.error(`sz: ${folder}/: folder length, expected ≤ ${max} lines, got ${lines}`);
    failed = true;
  }
}
console.log(`${String(rows.reduce((s, [, n]) => s + n, 0)).padStart(6)}  total (non-blank lines)`);
process.exit(failed ? 1 : 0);
