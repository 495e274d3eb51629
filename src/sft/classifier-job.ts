// The classifier jobs: a SequenceClassifier (the language model's last-token features through a new `score` head)
// trained on {"text","label"} rows. The head strategy freezes the backbone and trains the head on features computed
// once; LoRA trains low-rank adapters in the backbone with the head in full (peft's modules_to_save), so every step
// runs the whole model. Both save as <Arch>ForSequenceClassification's config (id2label, label2id, num_labels).
import { InputError } from '../util/errors.ts';
import { epochBatches } from './batching.ts';
import {
  classificationBatches,
  classificationData,
  majorityBaseline,
  TEXT_PLACEHOLDER,
  type ClassBatch,
  type ClassificationData,
} from './classification.ts';
import { applyStrategy, countParameters } from './finetune-modes.ts';
import { SequenceClassifier } from './classifier.ts';
import { featureBatches, lastTokenFeatures, type FeatureBatch } from './feature-cache.ts';
import { Tensor } from '../autograd/tensor.ts';
import { noGrad } from '../autograd/tape.ts';
import { ClassificationTask, HeadTask } from './tasks.ts';
import { attachLora, detachLora, LORA_DEFAULTS } from './lora.ts';
import { storeWeights } from '../nn/weight-dtype.ts';
import type { Job, JobInputs } from './job.ts';

/** The splits tokenized with the train split's labels, the classifier, and what both jobs report and save. */
function labelledJob({ model, tokenizer, data, s, context }: JobInputs) {
  const template = s.template ?? TEXT_PLACEHOLDER;
  const options = { maxLength: s.maxLength, template };
  const train = classificationData(data.train, tokenizer, options);
  const names = train.labels.names;
  const val = classificationData(data.val, tokenizer, { ...options, labels: names });
  const test = classificationData(data.test, tokenizer, { ...options, labels: names });
  const trainLabel = majorityBaseline(train.examples).label;
  const baseline = (split: ClassificationData) =>
    split.examples.length ? majorityBaseline(split.examples, trainLabel).accuracy : undefined;
  const percent = (x: number | undefined) => (x === undefined ? '-' : `${(x * 100).toFixed(1)}%`);
  context.info(
    `labels: ${names.join(', ')}; majority baseline accuracy (always ${names[trainLabel]}) ${percent(baseline(val))} on val, ${percent(baseline(test))} on test`,
  );
  if (template !== TEXT_PLACEHOLDER)
    context.info(`template: each text presented as ${JSON.stringify(template)}`);
  const padId = tokenizer.eosId ?? 0;
  const arch = model.hfClasses.classifier;
  return {
    splits: { train, val, test },
    names,
    padId,
    baseline: baseline(val),
    testBaseline: baseline(test),
    config: {
      ...model.rawConfig,
      architectures: [arch],
      id2label: train.labels.id2label,
      label2id: train.labels.label2id,
      num_labels: names.length,
      pad_token_id: padId,
      ...(template !== TEXT_PLACEHOLDER ? { text_template: template } : {}),
    },
  };
}

/** `label (true: label)` for the first val (else train) example. */
async function sampleLabel(
  classifier: SequenceClassifier,
  names: string[],
  features: Float32Array,
  label: number,
): Promise<string> {
  const gpu = classifier.gpu;
  using _scope = gpu.scope('sample');
  const input = Tensor.from(gpu, features, [1, features.length], { label: 'features' });
  const logits = await noGrad(gpu, () => classifier.classify(input)).readF32(); // (1, labels)
  const best = logits.indexOf(Math.max(...logits));
  return `${names[best]} (true: ${names[label]})`;
}

export async function headJob(inputs: JobInputs): Promise<Job<FeatureBatch>> {
  const { model, s, context, sampleRow } = inputs;
  if (s.dropout) {
    throw new InputError(
      `${context.name('dropout')}: ${s.dropout} with ${context.name('strategy')} head, expected 0 or unset (the frozen backbone runs in eval mode, its features computed once)`,
    );
  }
  const job = labelledJob(inputs);
  const { train, val, test } = job.splits;
  applyStrategy(model, 'head');
  await storeWeights(model, s.dtype ?? 'auto');
  const classifier = new SequenceClassifier(model.gpu, model, job.names.length, s.seed);
  if (s.headWeight) classifier.load('score.weight', s.headWeight);

  const started = performance.now();
  // Rows are length-sorted, so larger forward batches save little padding; a training batch bounds the memory.
  const cacheOptions = { batchSize: Math.min(s.batchSize, 32), padId: job.padId };
  const cache = (split: ClassificationData) => lastTokenFeatures(classifier, split.examples, cacheOptions);
  const cached = { train: await cache(train), val: await cache(val), test: await cache(test) };
  const texts = cached.train.length + cached.val.length + cached.test.length;
  const batches = { batchSize: s.batchSize, shuffle: s.shuffle, seed: s.seed };
  const first = cached.val[0] ?? cached.train[0];
  return {
    module: classifier,
    task: new HeadTask(classifier),
    trainBatches: epochBatches(featureBatches, cached.train, batches),
    val: featureBatches(cached.val, { ...batches, shuffle: false }),
    test: featureBatches(cached.test, { ...batches, shuffle: false }),
    report: countParameters(classifier.parameters()),
    config: job.config,
    restoreBest: true,
    baseline: job.baseline,
    testBaseline: job.testBaseline,
    featureCache: { texts, seconds: (performance.now() - started) / 1000 },
    sampleRow,
    sampleInput: sampleRow.format === 'text-label' ? sampleRow.text : '',
    sample: () => sampleLabel(classifier, job.names, first.features, first.label),
    dispose() {
      classifier.score.dispose();
    },
  };
}

/**
 * LoRA on labelled rows: adapters on the backbone's target layers and the `score` head, both trained (the head in
 * full, as peft's modules_to_save for SEQ_CLS), from token ids every step; the base stays frozen.
 */
export async function loraClassifierJob(inputs: JobInputs): Promise<Job<ClassBatch>> {
  const { model, s, sampleRow } = inputs;
  const job = labelledJob(inputs);
  const { train, val, test } = job.splits;
  const lora = s.lora ?? LORA_DEFAULTS;
  const targets = attachLora(model, lora, s.seed);
  const classifier = new SequenceClassifier(model.gpu, model, job.names.length, s.seed);
  if (s.headWeight) classifier.load('score.weight', s.headWeight);
  const report = applyStrategy(model, 'lora');
  classifier.score.weight.requiresGrad = true;
  const batches = { batchSize: s.batchSize, shuffle: s.shuffle, seed: s.seed, padId: job.padId };
  const evalBatches = { ...batches, shuffle: false };
  const first = val.examples[0] ?? train.examples[0];
  return {
    module: classifier,
    task: new ClassificationTask(classifier),
    trainBatches: epochBatches(classificationBatches, train.examples, batches),
    val: classificationBatches(val.examples, evalBatches),
    test: classificationBatches(test.examples, evalBatches),
    report: {
      ...report,
      trainable: report.trainable + classifier.score.weight.size,
      trainableTensors: report.trainableTensors + 1,
    },
    config: job.config,
    restoreBest: false,
    baseline: job.baseline,
    testBaseline: job.testBaseline,
    adapter: { settings: lora, targets, head: classifier.score },
    sampleRow,
    sampleInput: sampleRow.format === 'text-label' ? sampleRow.text : '',
    async sample() {
      const gpu = model.gpu;
      using _scope = gpu.scope('sample');
      const ids = Tensor.from(gpu, Int32Array.from(first.ids), [1, first.ids.length], { label: 'ids' });
      model.eval();
      const features = await noGrad(gpu, () =>
        classifier.features(ids, Int32Array.of(first.ids.length - 1)),
      ).readF32();
      model.train();
      return sampleLabel(classifier, job.names, features, first.label);
    },
    dispose() {
      detachLora(model);
      classifier.score.dispose();
    },
  };
}
