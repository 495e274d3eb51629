// One SFT training step of the bundled GPT-2 on a batch of real dialogue rows (forward, backward, Adam update), on
// our engine (LmTask + AdamW, as the trainer runs it) and on TF.js (the same model in TF.js ops, the same weights,
// tf.train.adam). Rate: tokens per second, tokens = B·T positions of the padded batch.
import { Gpt2Tokenizer } from '../../src/tokenizers/gpt2-bpe.ts';
import { parseGpt2Config, type Gpt2Config } from '../../src/models/gpt2/config.ts';
import { loadGpt2FromFiles } from '../../src/models/load-browser.ts';
import { readSafetensors } from '../../src/io/safetensors.ts';
import { AdamW } from '../../src/optim/adamw.ts';
import { tokenizeRows, truncateExamples } from '../../src/sft/dataset.ts';
import { parseJsonl } from '../../src/sft/jsonl.ts';
import { IGNORE_INDEX, lmBatches, type LmBatch } from '../../src/sft/batching.ts';
import { LmTask } from '../../src/sft/tasks.ts';
import type { BenchCase, BenchFiles, Runner, SuiteContext } from '../suite.ts';
import { TfGpt2 } from '../tfjs/gpt2.ts';
import { ADAM, oursStepRunner, tfjsStepRunner } from './step-runners.ts';

export async function modelConfig(files: BenchFiles): Promise<Gpt2Config> {
  const blob = files.model.get('config.json');
  if (!blob) throw new Error('bench: model files, expected config.json, got none');
  return parseGpt2Config(JSON.parse(await blob.text()) as Record<string, unknown>, 'config.json');
}

/** The first `batchSize` rows of train.jsonl, tokenized and padded as the trainer does (no shuffle). */
export async function dialogueBatch(
  files: BenchFiles,
  batchSize: number,
  maxLength: number,
): Promise<LmBatch> {
  const config = await modelConfig(files);
  const [vocab, merges] = ['vocab.json', 'merges.txt'].map((name) => files.model.get(name));
  if (!vocab || !merges) throw new Error('bench: model files, expected vocab.json and merges.txt, got none');
  const tokenizer = new Gpt2Tokenizer(await vocab.text(), await merges.text(), { eos: config.eosTokenId });
  // More rows than the batch takes: truncation drops rows left with no target (a long prompt).
  const rows = parseJsonl(files.trainJsonl, 'train.jsonl').rows.slice(0, 4 * batchSize);
  const examples = truncateExamples(tokenizeRows(rows, tokenizer), maxLength).examples;
  const padId = tokenizer.eosId ?? 0;
  return lmBatches(examples, { batchSize, maxLength, packing: false, shuffle: false, seed: 0, padId })[0];
}

/** Rows per batch and the longest example: the SFT defaults (batch 8, the model's context), or small for --quick. */
export const sftBatchShape = (quick: boolean) =>
  quick ? { batchSize: 2, maxLength: 32 } : { batchSize: 8, maxLength: 128 };

export function sftStepCases(quick: boolean): BenchCase[] {
  const { batchSize, maxLength } = sftBatchShape(quick);
  let batch: Promise<LmBatch> | null = null;
  const getBatch = (files: BenchFiles) => (batch ??= dialogueBatch(files, batchSize, maxLength));
  let oursLosses: number[] | null = null;
  const common = {
    kernel: 'sft-step',
    size: quick ? `gpt2 B${batchSize} T≤${maxLength}` : `gpt2 B${batchSize}×T${maxLength}`,
    work: { tokens: 0 },
    primary: 'wall' as const,
    warmUps: 2,
  };
  // The padded length T is known once the batch is tokenized.
  const actual = (b: LmBatch) => ({ size: `gpt2 B${b.B}×T${b.T}`, work: { tokens: b.B * b.T } });

  // The default (fused) LM head and the logits + cross-entropy head, timed in the same interleaved rounds, so the fused
  // head's ratio to TF.js is read against the logits head's in one run.
  const oursCase = (impl: string, fusedHead: boolean): BenchCase => ({
    ...common,
    impl,
    engine: 'ours',
    async prepare(ctx: SuiteContext): Promise<Runner> {
      const b = await getBatch(ctx.files);
      const { model } = await loadGpt2FromFiles(ctx.gpu, ctx.files.model);
      model.setDropout(0); // the TF.js model has none, and the two losses are compared step by step
      model.train();
      const task = new LmTask(model, { fusedHead });
      const optimizer = new AdamW(ctx.gpu, model.namedParameters(), ADAM);
      const losses = (oursLosses = []);
      const record = () => {
        optimizer.zeroGrad();
        const { loss } = task.loss(b);
        loss.backward();
        optimizer.step();
        return loss;
      };
      return {
        ...oursStepRunner(ctx, record, losses, () => (optimizer.dispose(), model.dispose())),
        ...actual(b),
      };
    },
  });
  const ours = [oursCase('ours', true), oursCase('ours logits head', false)];

  const tfjs: BenchCase = {
    ...common,
    impl: 'tf.js',
    engine: 'tfjs',
    async prepare(ctx: SuiteContext): Promise<Runner> {
      const tf = ctx.tf!;
      const bytesBefore = tf.memory().numBytes;
      const b = await getBatch(ctx.files);
      const config = await modelConfig(ctx.files);
      const weights = await readSafetensors(ctx.files.model.get('model.safetensors')!, 'model.safetensors');
      const model = await TfGpt2.load(tf, weights, config);
      const rows: number[] = [];
      const targets: number[] = [];
      b.targets.forEach((t, i) => t !== IGNORE_INDEX && (rows.push(i), targets.push(t)));
      const ids = tf.tensor2d(b.ids, [b.B, b.T], 'int32');
      const rowsT = tf.tensor1d(rows, 'int32');
      const labels = tf.tidy(() =>
        tf.cast(tf.oneHot(tf.tensor1d(targets, 'int32'), config.vocabSize), 'float32'),
      );
      const runner = tfjsStepRunner(ctx, {
        loss: () => model.loss(ids, rowsT, labels as typeof ids),
        variables: [...model.params.values()],
        bytesBefore,
        ours: () => oursLosses,
        // Same weights and batch: the first loss agrees to float32 rounding; Adam then amplifies rounding
        // differences in near-zero gradients (its update is about lr·sign(g)), so later steps get more room.
        tolerance: (step) => (step === 0 ? 1e-5 : 1e-3),
        dispose: () => (model.dispose(), ids.dispose(), rowsT.dispose(), labels.dispose()),
      });
      return { ...runner, ...actual(b) };
    },
  };
  return [...ours, tfjs];
}
