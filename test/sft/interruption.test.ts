// A checkpoint is one unit (issue #11): real training runs killed with SIGKILL at many points (mid-step, while a
// checkpoint's files are written) leave a folder that either resumes to the uninterrupted run's losses and weights, or
// is refused with one line; the states a kill between the two renames leaves are recovered; a folder mixing files of
// two checkpoints is refused by --resume; a full disk ends the run with one line and the last checkpoint intact.
import { execFileSync } from 'node:child_process';
import {
  appendFileSync,
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { cli, cliLive, errorLines, textRows, waitFor } from '../helpers/cli.ts';
import { parseTrainerState } from '../../src/sft/checkpoint-node.ts';
import { recoverCheckpointFolder, verifyCheckpoint } from '../../src/sft/checkpoint-folder-node.ts';

const ROWS = textRows(16); // 12 train rows after the default 10% + 10% held out: 6 steps of 2
const STEPS = 6;
const TRAIN = [
  'train',
  '--model',
  'assets/stories260K-hf',
  '--train',
  ROWS,
  '--batch-size',
  '2',
  '--max-length',
  '24',
  '--sample-tokens',
  '0',
  '--max-steps',
  String(STEPS),
  '--eval-every',
  '1',
  '--json',
];
const newOut = () => join(mkdtempSync(join(tmpdir(), 'kill-')), 'run');

const stepLosses = (stdout: string) =>
  new Map(
    stdout
      .split('\n')
      .filter((l) => l.includes('"type":"step"'))
      .map((l) => JSON.parse(l) as { step: number; loss: number })
      .map((e) => [e.step, e.loss]),
  );

const leftovers = (out: string, kind: string) =>
  readdirSync(join(out, '..')).filter((n) => n.startsWith(`.run.${kind}-`));

let reference: Promise<{ losses: Map<number, number>; model: Buffer }> | null = null;
function uninterrupted() {
  reference ??= (async () => {
    const out = newOut();
    const r = await cli(...TRAIN, '--out', out);
    expect(r.code, r.stderr).toBe(0);
    return { losses: stepLosses(r.stdout), model: readFileSync(join(out, 'model.safetensors')) };
  })();
  return reference;
}

describe('SIGKILL during training and checkpointing', () => {
  // Each trigger kills a run at a different point; the folder must then resume exactly or be refused clearly.
  // Those after the first checkpoint must resume; one before it may also be refused (there is nothing to resume).
  const checkpointed = (out: string) => existsSync(join(out, 'checkpoint.json'));
  const triggers: [string, boolean, (out: string, stdout: () => string) => boolean][] = [
    ['right after step 1 is reported', false, (_, o) => o().includes('"type":"step"')],
    ['while step 3 runs', true, (_, o) => stepLosses(o()).has(2)],
    [
      'while a later checkpoint is written',
      true,
      (out) => checkpointed(out) && leftovers(out, 'partial').length > 0,
    ],
    [
      'while optimizer.safetensors of a later checkpoint is written',
      true,
      (out) =>
        checkpointed(out) &&
        leftovers(out, 'partial').some((p) => existsSync(join(out, '..', p, 'optimizer.safetensors'))),
    ],
    [
      'after the second checkpoint',
      true,
      (out) => checkpointed(out) && readFileSync(join(out, 'checkpoint.json'), 'utf8').includes('"step": 2'),
    ],
  ];
  it.each(triggers.map(([name, mustResume, trigger]) => ({ name, mustResume, trigger })))(
    'killed $name: resumes to the same losses and weights, or is refused in one line',
    async ({ mustResume, trigger }) => {
      const ref = await uninterrupted();
      // A kill point inside a checkpoint's write lasts milliseconds: a run that finishes before it is seen is tried again.
      let out = '';
      for (let attempt = 0; attempt < 3 && !out; attempt++) {
        const folder = newOut();
        const run = cliLive(...TRAIN, '--out', folder);
        await waitFor(
          () => trigger(folder, run.stdout) || run.child.exitCode !== null,
          'the kill point',
          60_000,
          1,
        );
        run.child.kill('SIGKILL');
        // Killed, not finished on its own between the last poll and the kill.
        if ((await run.exit).signal === 'SIGKILL') out = folder;
      }
      expect(out, 'the kill point was reached in one of 3 runs').not.toBe('');
      const resumed = await cli('train', '--resume', '--out', out, '--json');
      if (resumed.code === 2 && !mustResume) {
        // Only a run killed before its first checkpoint completed may be refused, and then in one line.
        expect(errorLines(resumed)[0]).toMatch(/--resume/);
        expect(existsSync(join(out, 'checkpoint.json'))).toBe(false);
        return;
      }
      expect(resumed.code, resumed.stderr).toBe(0);
      const losses = stepLosses(resumed.stdout);
      expect(losses.size).toBeGreaterThan(0);
      for (const [step, loss] of losses) expect(loss, `step ${step}`).toBe(ref.losses.get(step));
      expect(Math.max(...losses.keys())).toBe(STEPS);
      expect(readFileSync(join(out, 'model.safetensors')).equals(ref.model)).toBe(true);
      expect(leftovers(out, 'partial').concat(leftovers(out, 'old'))).toEqual([]);
      await verifyCheckpoint(out, { hash: true });
    },
  );
});

describe('checkpoint folder states', () => {
  async function twoCheckpoints() {
    const step1 = newOut();
    const step2 = newOut();
    expect((await cli(...TRAIN, '--out', step1, '--max-steps', '1')).code).toBe(0);
    expect((await cli(...TRAIN, '--out', step2, '--max-steps', '2')).code).toBe(0);
    return { step1, step2 };
  }

  it('killed between the two renames: the new checkpoint (or else the old) is restored; stale leftovers removed', async () => {
    const { step1, step2 } = await twoCheckpoints();
    const parent = join(step1, '..');
    // The folder was renamed away (.old) and the complete new one (.partial) not yet renamed in.
    renameSync(step1, join(parent, '.run.old-999999-aa'));
    cpSync(step2, join(parent, '.run.partial-999999-bb'), { recursive: true });
    const notes = await recoverCheckpointFolder(step1);
    expect(notes.join('\n')).toMatch(/restored the checkpoint from \.run\.partial-999999-bb/);
    expect((await verifyCheckpoint(step1, { hash: true })).step).toBe(2);
    expect(readdirSync(parent)).toEqual(['run']);
    // An incomplete new one (no manifest) is removed and the old one restored.
    renameSync(step1, join(parent, '.run.old-999999-cc'));
    mkdirSync(join(parent, '.run.partial-999999-dd'));
    await recoverCheckpointFolder(step1);
    expect((await verifyCheckpoint(step1, { hash: true })).step).toBe(2);
    expect(readdirSync(parent)).toEqual(['run']);
    // A leftover of a process that is still running is not touched.
    const live = join(parent, `.run.partial-${process.ppid}-ee`);
    mkdirSync(live);
    await recoverCheckpointFolder(step1);
    expect(existsSync(live)).toBe(true);
  });

  it('--resume after a kill between the two renames: recovers the checkpoint and goes on', async () => {
    const { step1, step2 } = await twoCheckpoints();
    const parent = join(step1, '..');
    renameSync(step1, join(parent, '.run.old-999999-aa'));
    cpSync(step2, join(parent, '.run.partial-999999-bb'), { recursive: true });
    const r = await cli('train', '--resume', '--out', step1, '--max-steps', '3', '--json');
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/restored the checkpoint from \.run\.partial-999999-bb/);
    expect([...stepLosses(r.stdout).keys()]).toEqual([3]);
    expect(readdirSync(parent)).toEqual(['run']);
  });

  it('a folder mixing two checkpoints is refused by --resume, naming the file', async () => {
    const { step1, step2 } = await twoCheckpoints();
    cpSync(join(step2, 'model.safetensors'), join(step1, 'model.safetensors')); // same size, other bytes
    const r = await cli('train', '--resume', '--out', step1, '--max-steps', '3');
    expect(r.code, r.stderr + r.stdout).toBe(2);
    expect(errorLines(r)[0]).toMatch(
      /model\.safetensors: SHA-256, expected .* as checkpoint\.json records, got another/,
    );
    // eval and generate check sizes only (hashing would read every byte once more).
    appendFileSync(join(step1, 'trainer_state.json'), '\n');
    const r2 = await cli('eval', '--model', step1, '--data', ROWS);
    expect(r2.code, r2.stderr).toBe(2);
    expect(errorLines(r2)[0]).toMatch(
      /trainer_state\.json: size, expected \d+ bytes as checkpoint\.json records/,
    );
  });

  it('trainer_state.json keeps a best loss not yet set as null and reads it back as Infinity', () => {
    const state = parseTrainerState(
      '{"step":2,"epoch":0,"batchInEpoch":4,"randomOffset":0,"bestLoss":null,"bestStep":0,"evalsWithoutBetter":0}',
      'trainer_state.json',
    );
    expect(state.bestLoss).toBe(Infinity);
    expect(() => parseTrainerState('{"step":-1}', 'ts.json')).toThrow(
      /ts\.json: field 'step', expected an integer ≥ 0, got -1/,
    );
  });
});

// A small tmpfs stands in for a full disk and a read-only one (mounting needs root, as CI and these machines have).
const mounts: string[] = [];
function mountTmpfs(options: string): string | null {
  const dir = mkdtempSync(join(tmpdir(), 'tmpfs-'));
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', options, 'tmpfs', dir], { stdio: 'ignore' });
  } catch {
    return null;
  }
  mounts.push(dir);
  return dir;
}
afterAll(() => {
  for (const dir of mounts) {
    execFileSync('umount', [dir]);
    rmSync(dir, { recursive: true, force: true });
  }
});
const canMount = (() => {
  const dir = mountTmpfs('size=1m');
  return dir !== null;
})();

describe.skipIf(!canMount)('full and read-only disks', () => {
  it('a disk that fills up: one line, exit 2, the last checkpoint intact and no leftovers', async () => {
    // One checkpoint (~3.1 MB) fits in 5 MB; the next needs room for a second copy before the switch.
    const disk = mountTmpfs('size=5m')!;
    const out = join(disk, 'run');
    const r = await cli(...TRAIN, '--out', out);
    expect(r.code, r.stderr).toBe(2);
    expect(errorLines(r).length).toBe(1);
    expect(errorLines(r)[0]).toMatch(/ENOSPC \(no space left on the device\)/);
    expect((await verifyCheckpoint(out, { hash: true })).step).toBe(1);
    expect(readdirSync(disk)).toEqual(['run']);
  });

  it('--out on a read-only disk: one line naming --out, exit 2, before the device opens', async () => {
    const disk = mountTmpfs('size=1m,ro')!;
    const r = await cli(...TRAIN, '--out', join(disk, 'run'));
    expect(r.code, r.stderr).toBe(2);
    expect(errorLines(r)).toEqual([
      expect.stringMatching(
        /^--out: .*, expected a folder this process can write in, got EROFS \(read-only file system\)$/,
      ),
    ]);
    expect(r.stderr).not.toContain('software adapter');
  });
});
