// LoRA on labelled rows: adapters in the backbone and the `score` head trained in full (peft's modules_to_save for
// SEQ_CLS). Against peft (tools/peft_classifier_reference.py -> test/fixtures/lora/*-cls, lora-cls-logits.safetensors):
// the engine's classifier adapter and one made by peft give peft's logits here. Training changes only the adapters and
// the head; the checkpoint is peft's layout plus config.json with the labels, and eval with --adapter reproduces the
// run's last validation.
import { cpSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { testGpu } from '../helpers/gpu.ts';
import { tempFile } from '../helpers/cli.ts';
import { sftArgs } from '../helpers/sft-args.ts';
import { compare, describeComparison } from '../../src/check/compare.ts';
import { Tensor } from '../../src/autograd/tensor.ts';
import { noGrad } from '../../src/autograd/tape.ts';
import { readSafetensorsPath } from '../../src/io/safetensors-node.ts';
import { loadModel } from '../../src/models/load-node.ts';
import { loadAdapter } from '../../src/sft/adapter-node.ts';
import { SequenceClassifier } from '../../src/sft/classifier.ts';
import { adapterHasHead, LORA_DEFAULTS, peftKey } from '../../src/sft/lora.ts';
import { ClassificationTask } from '../../src/sft/tasks.ts';
import { Trainer } from '../../src/sft/trainer.ts';
import { runSft, type SftEvent } from '../../src/sft/run-node.ts';
import { evaluateFile } from '../../src/sft/evaluate-node.ts';

const gpuPromise = testGpu();
const fixture = readSafetensorsPath('test/fixtures/lora-cls-logits.safetensors');
const ADAPTERS = {
  'ours-gpt2-cls': { base: 'assets/gpt2-shakespeare', labels: 8 },
  'peft-llama-cls': { base: 'assets/stories260K-hf', labels: 3 },
};

/** Labelled rows of the bundled speaker data: the first n of train, and n val rows whose label train has. */
function speakers(n: number): { train: string; val: string } {
  const rows = (split: string) =>
    readFileSync(`assets/sft/speakers/${split}.jsonl`, 'utf8')
      .split('\n')
      .filter((l) => l.trim());
  const train = rows('train').slice(0, n);
  const seen = new Set(train.map((l) => (JSON.parse(l) as { label: string }).label));
  const val = rows('val')
    .filter((l) => seen.has((JSON.parse(l) as { label: string }).label))
    .slice(0, n);
  return {
    train: tempFile('train.jsonl', train.join('\n') + '\n'),
    val: tempFile('val.jsonl', val.join('\n') + '\n'),
  };
}

describe('LoRA classifier adapters vs peft', () => {
  it.each(Object.entries(ADAPTERS))(
    '%s: adapters and score head applied here give peft’s logits (rel L2 ≤ 1e-5)',
    async (name, { base, labels }) => {
      const gpu = await gpuPromise;
      const f = await fixture;
      const model = await loadModel(gpu, base);
      const classifier = new SequenceClassifier(gpu, model, labels);
      try {
        await loadAdapter(model, `test/fixtures/lora/${name}`, classifier.score);
        classifier.eval();
        for (let i = 0; i < 3; i++) {
          const ids = await f.getInt32(`${name}.${i}.ids`);
          using _s = gpu.scope('logits');
          const x = Tensor.from(gpu, ids, [1, ids.length], { label: 'ids' });
          const got = await noGrad(gpu, () => classifier.forward(x, Int32Array.of(ids.length - 1))).readF32();
          const c = compare(got, await f.getF32(`${name}.${i}.logits`));
          expect(c.relL2, `${ids.length} ids: ${describeComparison(c)}`).toBeLessThanOrEqual(1e-5);
        }
      } finally {
        classifier.dispose();
      }
    },
  );

  it('refuses a classifier adapter without a head to load it into, and other modules_to_save', async () => {
    const gpu = await gpuPromise;
    const model = await loadModel(gpu, 'assets/stories260K-hf');
    try {
      await expect(loadAdapter(model, 'test/fixtures/lora/peft-llama-cls')).rejects.toThrow(
        /tensor 'base_model\.model\.score\.weight', expected a language model's adapter, got a classifier's/,
      );
    } finally {
      model.dispose();
    }
    const file = 'adapter_config.json';
    expect(adapterHasHead({ task_type: 'SEQ_CLS', modules_to_save: ['classifier', 'score'] }, file)).toBe(
      true,
    );
    expect(adapterHasHead({ task_type: 'CAUSAL_LM', modules_to_save: null }, file)).toBe(false);
    expect(() => adapterHasHead({ task_type: 'CAUSAL_LM', modules_to_save: ['lm_head'] }, file)).toThrow(
      /field 'modules_to_save', expected none or the classifier's head/,
    );
    expect(() => adapterHasHead({ task_type: 'SEQ_CLS', modules_to_save: null }, file)).toThrow(
      /field 'task_type', expected a causal LM's/,
    );
  });
});

describe('LoRA classifier training', () => {
  // tools/peft_classifier_reference.py: gradients and one full-batch float64 AdamW step (lr 1e-3, decay 0.01, clip
  // 1.0, dropout 0) from peft's classifier adapter on 3 labelled rows, the adapters and the head trainable. Bounds as
  // for the language-model step (lora.test.ts): gradients rel L2 ≤ 1e-4; weights within 1e-5 of the tensor's largest
  // where the clipped gradient is not within 100·eps of 0 (there Adam's direction is ill-conditioned: bounded by lr).
  it('peft-llama-cls: gradients and adapters + head after one AdamW step match peft; the base bit-identical', async () => {
    const gpu = await gpuPromise;
    const name = 'peft-llama-cls';
    const ref = await fixture;
    const ids = await ref.getInt32(`${name}.step.ids`);
    const labels = await ref.getInt32(`${name}.step.labels`);
    const model = await loadModel(gpu, 'assets/stories260K-hf');
    const classifier = new SequenceClassifier(gpu, model, 3);
    try {
      await loadAdapter(model, `test/fixtures/lora/${name}`, classifier.score);
      classifier.score.weight.requiresGrad = true;
      const lr = 1e-3;
      const trainer = new Trainer(gpu, classifier, new ClassificationTask(classifier), {
        epochs: 1, maxSteps: 1, gradAccum: 1, lr, lrSchedule: 'constant', warmupSteps: 0, weightDecay: 0.01,
        beta1: 0.9, beta2: 0.999, eps: 1e-8, clipGradNorm: 1, seed: 0, evalEvery: 0, patience: 0,
      }); // prettier-ignore
      const [B, T] = [3, ids.length / 3];
      await trainer.train({
        trainBatches: () => [{ ids, labels, lastIndex: new Int32Array(B).fill(T - 1), B, T }],
      });
      trainer.dispose();
      const trained = classifier.namedParameters().filter(([, t]) => t.requiresGrad);
      const keys = trained.map(([n]) => peftKey(n));
      expect(keys.sort()).toEqual(
        [...ref.tensors.keys()]
          .filter((k) => k.startsWith(`${name}.step.base_model`))
          .map((k) => k.slice(`${name}.step.`.length))
          .sort(),
      );
      const grads = new Map(
        await Promise.all(keys.map(async (k) => [k, await ref.getF32(`${name}.grad.${k}`)] as const)),
      );
      const norm = Math.sqrt([...grads.values()].reduce((s, g) => s + g.reduce((a, x) => a + x * x, 0), 0));
      const clip = Math.min(1, 1 / (norm + 1e-6));
      let [worst, worstGrad, illConditioned] = [0, 0, 0];
      for (const [n, t] of trained) {
        const key = peftKey(n);
        const c = compare(await t.grad!.readF32(), grads.get(key)!);
        worstGrad = Math.max(worstGrad, c.relL2);
        expect(c.relL2, `${key} gradient: ${describeComparison(c)}`).toBeLessThanOrEqual(1e-4);
        const [want, got, g] = [await ref.getF32(`${name}.step.${key}`), await t.readF32(), grads.get(key)!];
        let [maxDiff, maxRef] = [0, 0];
        for (let i = 0; i < want.length; i++) {
          maxRef = Math.max(maxRef, Math.abs(want[i]));
          const diff = Math.abs(got[i] - want[i]);
          if (Math.abs(g[i]) * clip >= 1e-6) maxDiff = Math.max(maxDiff, diff);
          else {
            illConditioned++;
            expect(diff, `${key}[${i}]`).toBeLessThanOrEqual(lr);
          }
        }
        worst = Math.max(worst, maxDiff / maxRef);
        expect(maxDiff / maxRef, `${key}: max|Δ| ${maxDiff} vs max|ref| ${maxRef}`).toBeLessThanOrEqual(1e-5);
      }
      console.log(
        `${name}: ${trained.length} tensors; gradients rel L2 ≤ ${worstGrad.toExponential(2)}; worst max|Δ|/max|ref| ${worst.toExponential(2)}, ${illConditioned} ill-conditioned elements`,
      );
      const original = await readSafetensorsPath('assets/stories260K-hf/model.safetensors');
      for (const t of await model.exportTensors()) {
        const bits = Buffer.from((await original.getF32(t.name)).buffer);
        expect(Buffer.from(t.data.buffer).equals(bits), `${t.name} unchanged`).toBe(true);
      }
    } finally {
      classifier.dispose();
    }
  });

  it('trains adapters and head only; peft layout + labels; eval --adapter gives the last validation; resume goes on', async () => {
    const gpu = await gpuPromise;
    const { train, val } = speakers(24);
    const a = sftArgs({
      train, val, batchSize: 8, maxLength: 48, lr: 1e-2, maxSteps: 3, strategy: 'lora',
      lora: { ...LORA_DEFAULTS, r: 4, dropout: 0 },
    }); // prettier-ignore
    const events: SftEvent[] = [];
    await runSft(gpu, a, (e) => events.push(e));
    const infos = events.flatMap((e) => (e.type === 'info' ? [e.message] : [])).join('\n');
    // GPT-2 shakespeare: C 64, 4 blocks of c_attn (64 → 192), r 4: 4·(4·64 + 192·4) + the head (labels × 64).
    const labels = JSON.parse(readFileSync(join(a.out, 'config.json'), 'utf8')) as Record<string, unknown>;
    const L = labels.num_labels as number;
    expect(infos).toContain(
      `strategy lora: ${(4 * (4 * 64 + 192 * 4) + L * 64).toLocaleString('en-US')} trainable`,
    );
    expect(labels.architectures).toEqual(['GPT2ForSequenceClassification']);
    expect(Object.keys(labels.id2label as object)).toHaveLength(L);
    const config = JSON.parse(readFileSync(join(a.out, 'adapter_config.json'), 'utf8')) as Record<
      string,
      unknown
    >;
    expect(config).toMatchObject({ task_type: 'SEQ_CLS', modules_to_save: ['classifier', 'score'], r: 4 });
    const file = await readSafetensorsPath(join(a.out, 'adapter_model.safetensors'));
    expect(file.tensors.get('base_model.model.score.weight')?.shape).toEqual([L, 64]);
    expect(file.tensors.size).toBe(4 * 2 + 1);
    const evals = events.flatMap((e) => (e.type === 'eval' ? [e.metrics.loss] : []));
    expect(evals.length).toBeGreaterThan(0);

    const metrics = await evaluateFile(gpu, 'assets/gpt2-shakespeare', val, {
      maxLength: 48,
      batchSize: 8,
      adapter: a.out,
    });
    expect(metrics.examples).toBe(24);
    expect(
      Math.abs(metrics.loss - evals.at(-1)!),
      `eval ${metrics.loss} vs the run's ${evals.at(-1)}`,
    ).toBeLessThan(1e-6);

    // The checkpoint goes on in a copy of its folder: --resume reads the adapter, the head and the optimizer state.
    const moved = mkdtempSync(join(tmpdir(), 'cls-adapter-'));
    cpSync(a.out, moved, { recursive: true });
    const resumed: number[] = [];
    await runSft(
      gpu,
      { ...a, out: moved, resume: true, maxSteps: 4, epochs: 2 },
      (e) => void (e.type === 'step' && resumed.push(e.step)),
    );
    expect(resumed).toEqual([4]);
    const after = await readSafetensorsPath(join(moved, 'adapter_model.safetensors'));
    const [h0, h1] = [
      await file.getF32('base_model.model.score.weight'),
      await after.getF32('base_model.model.score.weight'),
    ];
    expect(
      h1.some((x, i) => x !== h0[i]),
      'the resumed step trains the head from the saved one',
    ).toBe(true);
  });
});
