// Turns assets/sft-alpaca-demo/alpaca_en_demo.json (instruction/input/output records) into prompt/completion JSONL
// splits for SFT: 90% train, 10% val in file order. Run: npx tsx scripts/alpaca-to-jsonl.ts
import { readFileSync, writeFileSync } from 'node:fs';

interface AlpacaRecord {
  instruction: string;
  input: string;
  output: string;
}

const dir = 'assets/sft-alpaca-demo';
const records = JSON.parse(readFileSync(`${dir}/alpaca_en_demo.json`, 'utf8')) as AlpacaRecord[];
const rows = records.map((r) => ({
  prompt: `Instruction: ${r.instruction}\n${r.input ? `Input: ${r.input}\n` : ''}Response: `,
  completion: r.output,
}));
const cut = Math.round(rows.length * 0.9);
const write = (name: string, part: typeof rows) => writeFileSync(`${dir}/${name}.jsonl`, part.map((r) => JSON.stringify(r)).join('\n') + '\n');
write('train', rows.slice(0, cut));
write('val', rows.slice(cut));
console.log(`${dir}: ${cut} train, ${rows.length - cut} val rows`);
