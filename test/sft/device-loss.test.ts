// WebGPU device loss mid-run (device.destroy() stands in for a driver reset or a lost GPU): the run ends with a
// DeviceError that says so, and the checkpoint written before it is complete and intact.
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { createDevice } from '../../src/gpu/device.ts';
import { DeviceError } from '../../src/util/errors.ts';
import { runSft } from '../../src/sft/run-node.ts';
import { verifyCheckpoint } from '../../src/sft/checkpoint-folder-node.ts';
import { textRows } from '../helpers/cli.ts';
import { sftArgs } from '../helpers/sft-args.ts';

describe('device loss', () => {
  it('ends the run with a DeviceError and leaves the last checkpoint complete', async () => {
    const gpu = await createDevice({ log: null });
    const args = sftArgs({
      model: 'assets/stories260K-hf',
      train: textRows(16),
      batchSize: 2,
      maxLength: 24,
      maxSteps: 6,
      evalEvery: 1,
    });
    let polls = 0;
    const lose = () => {
      if (++polls === 3) gpu.device.destroy(); // after the checkpoint of step 2, before step 3
      return false;
    };
    const run = runSft(gpu, args, () => undefined, { shouldStop: lose });
    await expect(run).rejects.toThrow(DeviceError);
    await expect(run).rejects.toThrow(/gpu: device, expected a live device, got one lost \(destroyed/);
    expect((await verifyCheckpoint(args.out, { hash: true })).step).toBe(2);
    expect(readdirSync(join(args.out, '..')).filter((n) => n.startsWith('.'))).toEqual([]);
    gpu.dispose();
  });
});
