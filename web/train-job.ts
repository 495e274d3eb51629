// What one training run in the page needs, built from the model, tokenizer, data rows and the form's settings:
// the module to train (the LM itself, or a classifier head over it for the `head` strategy), its task, batches,
// a sample (a generated reply, or a predicted label) to show before and after, and the config to download.
import {
  applyStrategy,
  ClassificationTask,
  classificationBatches,
  classificationData,
  countParameters,
  epochBatches,
  generate,
  InputError,
  lmBatches,
  LmTask,
  noGrad,
  renderChat,
  SequenceClassifier,
  Tensor,
  tokenizeRows,
  truncateExamples,
  type DataRow,
  type LanguageModel,
  type Module,
  type ParameterReport,
  type Strategy,
  type Task,
  type Tokenizer,
} from '../src/index.ts';

export interface JobSettings {
  strategy: Strategy;
  freezeLayers: number;
  batchSize: number;
  maxLength: number;
  seed: number;
  /** Tokens generated for the sample reply. */
  replyTokens: number;
}

export interface Job {
  module: Module;
  task: Task<unknown>;
  trainBatches: (epoch: number) => unknown[];
  val: unknown[];
  report: ParameterReport;
  /** config.json for the downloaded weights. */
  config: Record<string, unknown>;
  sampleInput: string;
  /** The sample's output now: a greedy reply, or `label (true: label)`. */
  sample(): Promise<string>;
  /** Frees what the job added (a classifier head); the language model stays. */
  dispose(): void;
}

export function buildJob(
  model: LanguageModel,
  tokenizer: Tokenizer,
  data: { train: DataRow[]; val: DataRow[] },
  s: JobSettings,
): Job {
  const maxLength = Math.min(s.maxLength, model.contextLength);
  const padId = tokenizer.eosId ?? 0;
  if (s.strategy === 'head') return headJob(model, tokenizer, data, { ...s, maxLength }, padId);
  if (data.train[0]?.format === 'text-label') {
    throw new InputError(
      `strategy ${s.strategy}: data format text-label, expected prompt/completion, messages or text rows`,
      'labelled text trains a classifier: choose the "head" strategy',
    );
  }
  const report = applyStrategy(model, s.strategy, { freezeLayers: s.freezeLayers });
  const examples = (rows: DataRow[]) => truncateExamples(tokenizeRows(rows, tokenizer), maxLength).examples;
  const options = { batchSize: s.batchSize, maxLength, packing: false, shuffle: true, seed: s.seed, padId };
  const prompt = samplePrompt(data.val[0] ?? data.train[0], tokenizer);
  return {
    module: model,
    task: new LmTask(model) as Task<unknown>,
    trainBatches: epochBatches(lmBatches, examples(data.train), options),
    val: lmBatches(examples(data.val), { ...options, shuffle: false }),
    report,
    config: {
      ...model.rawConfig,
      architectures: [model.kind === 'gpt2' ? 'GPT2LMHeadModel' : 'LlamaForCausalLM'],
    },
    sampleInput: prompt,
    async sample() {
      const ids = tokenizer
        .encode(prompt, { allowSpecial: false })
        .slice(-Math.floor(model.contextLength / 2));
      model.eval();
      const out = await generate(model, ids, {
        maxNewTokens: s.replyTokens,
        temperature: 0,
        eosId: tokenizer.eosId,
      });
      model.train();
      return tokenizer.decode(out.filter((id) => id !== tokenizer.eosId));
    },
    dispose() {},
  };
}

/** The text a reply is generated after: the prompt, the chat up to the assistant, or the start of a text row. */
function samplePrompt(row: DataRow | undefined, tokenizer: Tokenizer): string {
  if (!row) throw new InputError('data: rows, expected at least one train or val row, got none');
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

function headJob(
  model: LanguageModel,
  tokenizer: Tokenizer,
  data: { train: DataRow[]; val: DataRow[] },
  s: JobSettings,
  padId: number,
): Job {
  const train = classificationData(data.train, tokenizer, { maxLength: s.maxLength });
  const names = train.labels.names;
  const val = classificationData(data.val, tokenizer, { maxLength: s.maxLength, labels: names });
  applyStrategy(model, 'head');
  const classifier = new SequenceClassifier(model.gpu, model, names.length, s.seed);
  const options = { batchSize: s.batchSize, shuffle: true, seed: s.seed, padId };
  const first = val.examples[0] ?? train.examples[0];
  const firstRow = data.val[0] ?? data.train[0];
  return {
    module: classifier,
    task: new ClassificationTask(classifier) as Task<unknown>,
    trainBatches: epochBatches(classificationBatches, train.examples, options),
    val: classificationBatches(val.examples, { ...options, shuffle: false }),
    report: countParameters(classifier.parameters()),
    config: {
      ...model.rawConfig,
      architectures: [
        model.kind === 'gpt2' ? 'GPT2ForSequenceClassification' : 'LlamaForSequenceClassification',
      ],
      id2label: train.labels.id2label,
      label2id: train.labels.label2id,
      num_labels: names.length,
      pad_token_id: padId,
    },
    sampleInput: firstRow.format === 'text-label' ? firstRow.text : '',
    async sample() {
      const gpu = model.gpu;
      using _scope = gpu.scope('sample');
      const ids = Tensor.from(gpu, Int32Array.from(first.ids), [1, first.ids.length], { label: 'ids' });
      classifier.eval();
      const logits = await noGrad(gpu, () =>
        classifier.forward(ids, Int32Array.of(first.ids.length - 1)),
      ).readF32();
      classifier.train();
      const best = logits.indexOf(Math.max(...logits));
      return `${names[best]} (true: ${names[first.label]})`;
    },
    dispose() {
      classifier.score.dispose();
    },
  };
}
