// One fine-tuning job, the same for the CLI (run-node.ts) and the demo page: from a loaded model, its tokenizer,
// parsed rows and the settings to the module to train, its task, train/val/test batches, the parameter counts, the
// config to save and a sample to show before and after. The head strategy trains on cached backbone features.
import { InputError } from '../util/errors.ts';
import { modelInput, type Tokenizer } from '../tokenizers/tokenizer.ts';
import type { LanguageModel } from '../models/language-model.ts';
import { generate } from '../models/generate.ts';
import type { Module } from '../nn/module.ts';
import { renderChat, tokenizeRows, truncateExamples } from './dataset.ts';
import { type DataRow } from './jsonl.ts';
import { epochBatches, lmBatches, type LmBatch } from './batching.ts';
import {
  classificationData,
  majorityBaseline,
  TEXT_PLACEHOLDER,
  type ClassificationData,
} from './classification.ts';
import { applyStrategy, countParameters, type ParameterReport, type Strategy } from './finetune-modes.ts';
import { SequenceClassifier } from './classifier.ts';
import { featureBatches, lastTokenFeatures, type FeatureBatch } from './feature-cache.ts';
import { Tensor } from '../autograd/tensor.ts';
import { noGrad } from '../autograd/tape.ts';
import { HeadTask, LmTask, type Task } from './tasks.ts';
import { attachLora, detachLora, LORA_DEFAULTS, type LoraSettings } from './lora.ts';

export interface JobSettings {
  strategy: Strategy;
  freezeLayers: number;
  /** A regular expression: only parameters whose name matches train (full and freeze). */
  trainable?: string;
  batchSize: number;
  maxLength: number;
  packing: boolean;
  shuffle: boolean;
  seed: number;
  /** Dropout probability set on the model; null keeps the config's. */
  dropout: number | null;
  /** Head only: how each text is presented to the model, `{text}` standing for it. */
  template?: string;
  /** Tokens of the sample reply. */
  sampleTokens: number;
  /** Head only: a trained `score.weight` to start from (resuming). */
  headWeight?: Float32Array;
  /** LoRA only: the adapter's settings (defaults: LORA_DEFAULTS). */
  lora?: LoraSettings;
}

/** Where the job reports: how errors name a setting and the data, and progress lines. */
export interface JobContext {
  /** A setting as its caller spells it: the CLI's `--strategy`, the page's `strategy`. */
  name(setting: 'strategy' | 'template' | 'dropout'): string;
  /** The training data in errors (a file name). */
  data: string;
  info(message: string): void;
}

export interface JobData {
  train: DataRow[];
  val: DataRow[];
  test?: DataRow[];
}

/** A job's batches match its task inside the builders; callers (the trainer) need not know the batch type. */
export interface Job<Batch = unknown> {
  module: Module;
  task: Task<Batch>;
  trainBatches: (epoch: number) => Batch[];
  val: Batch[];
  test: Batch[];
  report: ParameterReport;
  /** config.json for the saved weights. */
  config: Record<string, unknown>;
  /** End with the weights of the best validation loss (the head: cheap to snapshot). */
  restoreBest: boolean;
  /** Majority-class accuracy on val and test (head only). */
  baseline?: number;
  testBaseline?: number;
  /** The head's feature cache: how many texts, computed in how many seconds. */
  featureCache?: { texts: number; seconds: number };
  /** The row the sample is made from (the first val row, else the first train row), and the text shown for it. */
  sampleRow: DataRow;
  sampleInput: string;
  /** The sample's output now: a greedy reply, or `label (true: label)`. */
  sample(): Promise<string>;
  /** LoRA: the adapter's settings and the layers it adapts (checkpoints save only these, in peft's layout). */
  adapter?: { settings: LoraSettings; targets: string[] };
  /** Frees what the job added (a classifier head, LoRA adapters); the language model stays. */
  dispose(): void;
}

export async function buildJob(
  model: LanguageModel,
  tokenizer: Tokenizer,
  data: JobData,
  settings: JobSettings,
  context: JobContext,
): Promise<Job> {
  const s = { ...settings, maxLength: Math.min(settings.maxLength, model.contextLength) };
  const rows = { train: data.train, val: data.val, test: data.test ?? [] };
  const sampleRow = rows.val[0] ?? rows.train[0];
  if (!sampleRow) throw new InputError(`${context.data}: rows, expected at least one train row, got none`);
  if (s.dropout !== null) model.setDropout(s.dropout);
  const inputs = { model, tokenizer, data: rows, s, context, sampleRow };
  return s.strategy === 'head' ? headJob(inputs) : lmJob(inputs);
}

/** What buildJob hands the strategy's builder: maxLength already clipped to the context, the sample's row found. */
interface JobInputs {
  model: LanguageModel;
  tokenizer: Tokenizer;
  data: Required<JobData>;
  s: JobSettings;
  context: JobContext;
  sampleRow: DataRow;
}

function lmJob({ model, tokenizer, data, s, context, sampleRow }: JobInputs): Job<LmBatch> {
  const strategy = context.name('strategy');
  if (s.template !== undefined && s.template !== TEXT_PLACEHOLDER) {
    throw new InputError(
      `${context.name('template')}: ${JSON.stringify(s.template)} with ${strategy} ${s.strategy}, expected ${strategy} head (templates present classification texts)`,
    );
  }
  if (data.train[0]?.format === 'text-label') {
    throw new InputError(
      `${strategy} ${s.strategy}: ${context.data} format text-label, expected prompt/completion, messages or text rows`,
      `labelled text trains a classifier: use ${strategy} head`,
    );
  }
  const lora = s.strategy === 'lora' ? (s.lora ?? LORA_DEFAULTS) : null;
  const adapted = lora ? attachLora(model, lora, s.seed) : [];
  const report = applyStrategy(model, s.strategy, { freezeLayers: s.freezeLayers, trainable: s.trainable });
  const prepare = (rows: DataRow[], name: string) => {
    // A progress line about every 2 s once tokenizing takes that long (a large file), and one when it is done.
    let shown = false;
    const onProgress = (done: number, total: number) => {
      if (done === total && !shown) return;
      shown = true;
      context.info(`${name}: tokenized ${done.toLocaleString('en-US')} of ${total.toLocaleString('en-US')} rows`);
    };
    const t = truncateExamples(tokenizeRows(rows, tokenizer, { onProgress, intervalMs: 2000 }), s.maxLength);
    if (t.truncated || t.dropped) {
      context.info(
        `${name}: ${t.truncated} examples truncated to ${s.maxLength} tokens, ${t.dropped} left with no target dropped`,
      );
    }
    return t.examples;
  };
  const padId = tokenizer.eosId ?? 0;
  const options = {
    batchSize: s.batchSize,
    maxLength: s.maxLength,
    packing: s.packing,
    shuffle: s.shuffle,
    seed: s.seed,
    padId,
  };
  const evalOptions = { ...options, shuffle: false };
  const prompt = samplePrompt(sampleRow, tokenizer);
  return {
    module: model,
    task: new LmTask(model),
    trainBatches: epochBatches(lmBatches, prepare(data.train, 'train'), options),
    val: lmBatches(prepare(data.val, 'val'), evalOptions),
    test: lmBatches(prepare(data.test, 'test'), evalOptions),
    report,
    config: {
      ...model.rawConfig,
      architectures: [model.kind === 'gpt2' ? 'GPT2LMHeadModel' : 'LlamaForCausalLM'],
    },
    restoreBest: false,
    ...(lora ? { adapter: { settings: lora, targets: adapted } } : {}),
    sampleRow,
    sampleInput: prompt,
    async sample() {
      const room = Math.floor(model.contextLength / 2) - modelInput(tokenizer, []).length;
      const ids = modelInput(tokenizer, tokenizer.encode(prompt, { allowSpecial: false }).slice(-room));
      model.eval();
      const out = await generate(model, ids, {
        maxNewTokens: s.sampleTokens,
        temperature: 0,
        eosId: tokenizer.eosId,
      });
      model.train();
      return tokenizer.decode(out.filter((id) => id !== tokenizer.eosId));
    },
    dispose() {
      if (lora) detachLora(model); // the model may serve another job (the page)
    },
  };
}

/** The text a reply is generated after: the prompt, the chat up to the assistant, or the start of a text row. */
function samplePrompt(row: DataRow, tokenizer: Tokenizer): string {
  switch (row.format) {
    case 'prompt-completion':
      return row.prompt;
    case 'messages': {
      const last = row.messages.map((m) => m.role).lastIndexOf('assistant');
      const eos = tokenizer.eosId === null ? '' : tokenizer.decode([tokenizer.eosId]);
      return renderChat(row.messages.slice(0, last), { eos, generationPrompt: true });
    }
    case 'text':
    case 'text-label':
      return tokenizer.decode(tokenizer.encode(row.text, { allowSpecial: false }).slice(0, 12));
  }
}

async function headJob({ model, tokenizer, data, s, context, sampleRow }: JobInputs): Promise<Job<FeatureBatch>> {
  if (s.dropout) {
    throw new InputError(
      `${context.name('dropout')}: ${s.dropout} with ${context.name('strategy')} head, expected 0 or unset (the frozen backbone runs in eval mode, its features computed once)`,
    );
  }
  const template = s.template ?? TEXT_PLACEHOLDER;
  const options = { maxLength: s.maxLength, template };
  const train = classificationData(data.train, tokenizer, options);
  const names = train.labels.names;
  const val = classificationData(data.val, tokenizer, { ...options, labels: names });
  const test = classificationData(data.test, tokenizer, { ...options, labels: names });
  applyStrategy(model, 'head');
  const classifier = new SequenceClassifier(model.gpu, model, names.length, s.seed);
  if (s.headWeight) classifier.load('score.weight', s.headWeight);
  const trainLabel = majorityBaseline(train.examples).label;
  const baseline = (split: ClassificationData) =>
    split.examples.length ? majorityBaseline(split.examples, trainLabel).accuracy : undefined;
  const percent = (x: number | undefined) => (x === undefined ? '-' : `${(x * 100).toFixed(1)}%`);
  context.info(
    `labels: ${names.join(', ')}; majority baseline accuracy (always ${names[trainLabel]}) ${percent(baseline(val))} on val, ${percent(baseline(test))} on test`,
  );
  if (template !== TEXT_PLACEHOLDER)
    context.info(`template: each text presented as ${JSON.stringify(template)}`);

  const started = performance.now();
  const padId = tokenizer.eosId ?? 0;
  // Rows are length-sorted, so larger forward batches save little padding; a training batch bounds the memory.
  const cacheOptions = { batchSize: Math.min(s.batchSize, 32), padId };
  const cache = (split: ClassificationData) => lastTokenFeatures(classifier, split.examples, cacheOptions);
  const cached = { train: await cache(train), val: await cache(val), test: await cache(test) };
  const texts = cached.train.length + cached.val.length + cached.test.length;
  const batches = { batchSize: s.batchSize, shuffle: s.shuffle, seed: s.seed };
  const first = cached.val[0] ?? cached.train[0];
  const arch = model.kind === 'gpt2' ? 'GPT2ForSequenceClassification' : 'LlamaForSequenceClassification';
  return {
    module: classifier,
    task: new HeadTask(classifier),
    trainBatches: epochBatches(featureBatches, cached.train, batches),
    val: featureBatches(cached.val, { ...batches, shuffle: false }),
    test: featureBatches(cached.test, { ...batches, shuffle: false }),
    report: countParameters(classifier.parameters()),
    config: {
      ...model.rawConfig,
      architectures: [arch],
      id2label: train.labels.id2label,
      label2id: train.labels.label2id,
      num_labels: names.length,
      pad_token_id: padId,
      ...(template !== TEXT_PLACEHOLDER ? { text_template: template } : {}),
    },
    restoreBest: true,
    baseline: baseline(val),
    testBaseline: baseline(test),
    featureCache: { texts, seconds: (performance.now() - started) / 1000 },
    sampleRow,
    sampleInput: sampleRow.format === 'text-label' ? sampleRow.text : '',
    async sample() {
      const gpu = model.gpu;
      using _scope = gpu.scope('sample');
      const features = Tensor.from(gpu, first.features, [1, first.features.length], { label: 'features' });
      const logits = await noGrad(gpu, () => classifier.classify(features)).readF32(); // (1, labels)
      const best = logits.indexOf(Math.max(...logits));
      return `${names[best]} (true: ${names[first.label]})`;
    },
    dispose() {
      classifier.score.dispose();
    },
  };
}
