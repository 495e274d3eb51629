// npm run selftest [-- --filter <kernel>] : the kernel checks on this machine's GPU, as a table; exit 1 on failure.
import { createDevice } from '../src/gpu/device.ts';
import { formatSelftestRow, runSelftest, SELFTEST_HEADER } from '../src/check/selftest.ts';

const args = process.argv.slice(2);
const filterAt = args.indexOf('--filter');
const filter = filterAt >= 0 ? args[filterAt + 1] : undefined;
const gpu = await createDevice();
console.log(`device: ${gpu.description}${gpu.software ? ' (software)' : ''}`);
console.log(SELFTEST_HEADER);
const { rows, seed, passed } = await runSelftest(gpu, { filter, onRow: (r) => console.log(formatSelftestRow(r)) });
const failed = rows.filter((r) => !r.pass).length;
console.log(`\n${rows.length - failed} passed, ${failed} failed (seed ${seed})`);
gpu.dispose();
process.exit(passed ? 0 : 1);
