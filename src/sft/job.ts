// One fine-tuning job, the same for the CLI (run-node.ts) and the demo page: from a loaded model, its tokenizer,
// parsed rows and the settings to the module to train, its task, train/val/test batches, the parameter counts, the
// config to save and a sample to show before and after. Classifier jobs (head, LoRA on labelled rows): classifier-job.ts.
import { InputError } from '../util/errors.ts';
import { modelInput, type Tokenizer } from '../tokenizers/tokenizer.ts';
import type { LanguageModel } from '../models/language-model.ts';
import { generate } from '../models/generate.ts';
import type { Module } from '../nn/module.ts';
import { chatPromptIds, tokenizeRows, truncateExamples } from './dataset.ts';
import { chatTemplateFor, FALLBACK_NOTE, renderChat, type ChatTemplate } from './chat-template.ts';
import { type DataRow } from './jsonl.ts';
import { epochBatches, lmBatches, type LmBatch } from './batching.ts';
import { TEXT_PLACEHOLDER } from './classification.ts';
import { applyStrategy, type ParameterReport, type Strategy } from './finetune-modes.ts';
import { LmTask, type Task } from './tasks.ts';
import { attachLora, detachLora, LORA_DEFAULTS, type AttachedAdapter, type LoraSettings } from './lora.ts';
import { headJob, loraClassifierJob } from './classifier-job.ts';
import { storeWeights, type WeightDtype } from '../nn/weight-dtype.ts';

export interface JobSettings {
  strategy: Strategy;
  freezeLayers: number;
  /** A regular expression: only parameters whose name matches train (full and freeze). */
  trainable?: string;
  batchSize: number;
  maxLength: number;
  packing: boolean;
  /** Recompute each block in the backward instead of keeping its activations (default off). */
  gradientCheckpointing?: boolean;
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
  /** How frozen weight matrices are stored (default auto: as loaded); trained ones become f32. */
  dtype?: WeightDtype;
  /** Causal LM: batch rows per forward/backward pass (default the whole batch; the memory plan's rowsPerPass). */
  rowsPerPass?: number;
  /** The tokens per row the plan found rowsPerPass at (shorter batches take more rows per pass). */
  passLength?: number;
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
  /**
   * LoRA: the adapter's settings, the layers it adapts and a classifier's head (checkpoints save only these, in
   * peft's layout: lora.ts exportAdapter).
   */
  adapter?: AttachedAdapter;
  /** LM jobs: the chat template chat rows are rendered with (a checkpoint writes it into tokenizer_config.json). */
  chat?: ChatTemplate;
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
  model.gradientCheckpointing = s.gradientCheckpointing ?? false;
  const inputs = { model, tokenizer, data: rows, s, context, sampleRow };
  if (s.strategy === 'head') return headJob(inputs); // stores the weights before computing features
  const job =
    s.strategy === 'lora' && rows.train[0]?.format === 'text-label'
      ? await loraClassifierJob(inputs)
      : lmJob(inputs);
  await storeWeights(model, s.dtype ?? 'auto');
  return job;
}

/** What buildJob hands the strategy's builder: maxLength already clipped to the context, the sample's row found. */
export interface JobInputs {
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
      `labelled text trains a classifier: use ${strategy} head (or lora)`,
    );
  }
  const lora = s.strategy === 'lora' ? (s.lora ?? LORA_DEFAULTS) : null;
  const chat = chatTemplateFor(tokenizer);
  const chatRows = [data.train, data.val, data.test].some((rows) => rows[0]?.format === 'messages');
  if (chatRows && chat.fallback) context.info(FALLBACK_NOTE);
  const adapted = lora ? attachLora(model, lora, s.seed) : [];
  const report = applyStrategy(model, s.strategy, { freezeLayers: s.freezeLayers, trainable: s.trainable });
  const prepare = (rows: DataRow[], name: string) => {
    // A progress line about every 2 s once tokenizing takes that long (a large file), and one when it is done.
    let shown = false;
    const onProgress = (done: number, total: number) => {
      if (done === total && !shown) return;
      shown = true;
      context.info(
        `${name}: tokenized ${done.toLocaleString('en-US')} of ${total.toLocaleString('en-US')} rows`,
      );
    };
    const t = truncateExamples(
      tokenizeRows(rows, tokenizer, { onProgress, intervalMs: 2000 }, chat),
      s.maxLength,
    );
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
  const prompt = samplePrompt(sampleRow, tokenizer, chat);
  return {
    module: model,
    task: new LmTask(model, { rowsPerPass: s.rowsPerPass, passLength: s.passLength }),
    trainBatches: epochBatches(lmBatches, prepare(data.train, 'train'), options),
    val: lmBatches(prepare(data.val, 'val'), evalOptions),
    test: lmBatches(prepare(data.test, 'test'), evalOptions),
    report,
    config: {
      ...model.rawConfig,
      architectures: [model.hfClasses.causalLm],
    },
    restoreBest: false,
    chat,
    ...(lora ? { adapter: { settings: lora, targets: adapted, head: null } } : {}),
    sampleRow,
    sampleInput: prompt.text,
    async sample() {
      const room = Math.floor(model.contextLength / 2);
      const ids =
        prompt.ids.length <= room
          ? prompt.ids
          : modelInput(tokenizer, prompt.ids.slice(modelInput(tokenizer, []).length - room));
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

/** The text a reply is generated after (the prompt, the chat up to the assistant, or the start of a text row) and its ids. */
function samplePrompt(
  row: DataRow,
  tokenizer: Tokenizer,
  chat: ChatTemplate,
): { text: string; ids: number[] } {
  const plain = (text: string) => ({
    text,
    ids: modelInput(tokenizer, tokenizer.encode(text, { allowSpecial: false })),
  });
  switch (row.format) {
    case 'prompt-completion':
      return plain(row.prompt);
    case 'messages': {
      const last = row.messages.map((m) => m.role).lastIndexOf('assistant');
      const messages = row.messages.slice(0, last);
      return {
        text: renderChat(chat, messages, { addGenerationPrompt: true }),
        ids: chatPromptIds(tokenizer, chat, messages),
      };
    }
    case 'text':
    case 'text-label':
      return plain(tokenizer.decode(tokenizer.encode(row.text, { allowSpecial: false }).slice(0, 12)));
  }
}
