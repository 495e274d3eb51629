// The end of a bench run in Node, shared by `npm run bench` and `npm run bench:browser`: the table's legend, the
// load average over the run (results on a shared machine mean little without it) and the JSON in bench/results/.
import { mkdirSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';
import type { BenchReport } from './suite.ts';
import { LEGEND } from './table.ts';

/** Prints the legend and load average, writes bench/results/<fileName>; exit code 1 when a row has an error. */
export function finishReport(report: BenchReport, fileName: string, loadStart: number[]): number {
  for (const line of LEGEND) console.log(`  ${line}`);
  const loadAverage = { start: loadStart, end: loadavg() };
  const fmt = (l: number[]) => l.map((x) => x.toFixed(2)).join(' ');
  console.log(`load average (1, 5, 15 min): start ${fmt(loadStart)}, end ${fmt(loadAverage.end)}`);
  const dir = new URL('../bench/results/', import.meta.url);
  mkdirSync(dir, { recursive: true });
  const file = new URL(fileName, dir);
  writeFileSync(file, JSON.stringify({ ...report, loadAverage }, null, 2) + '\n');
  console.log(`wrote ${fileURLToPath(file)}`);
  return report.rows.some((r) => r.error) ? 1 : 0;
}
