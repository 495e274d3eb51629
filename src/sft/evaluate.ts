// evaluate: loss, perplexity and next-token accuracy of a language model on rows (plain objects or JSONL text), in
// eval mode and without recording, batched as the CLI's `eval` does.
import { InputError } from '../util/errors.ts';
import type { LanguageModel } from '../models/language-model.ts';
import type { Tokenizer } from '../tokenizers/tokenizer.ts';
import { lmBatches } from './batching.ts';
import { tokenizeRows, truncateExamples } from './dataset.ts';
import { chatTemplateFor } from './chat-template.ts';
import { parseJsonl, parseRows } from './jsonl.ts';
import { SFT_DEFAULTS } from './defaults.ts';
import type { Rows } from './fine-tune.ts';
import { LmTask } from './tasks.ts';
import { evaluateBatches, type Metrics } from './trainer.ts';

export interface EvaluateOptions {
  model: LanguageModel;
  tokenizer: Tokenizer;
  rows: Rows;
  maxLength?: number;
  batchSize?: number;
}

export async function evaluate(options: EvaluateOptions): Promise<Metrics> {
  const { model, tokenizer } = options;
  const data =
    typeof options.rows === 'string' ? parseJsonl(options.rows, 'rows') : parseRows(options.rows, 'rows');
  if (data.format === 'text-label')
    throw new InputError(
      'evaluate: rows of format text-label, expected prompt/completion, messages or text rows',
      "a classifier's metrics are fineTune's result (after, test) with strategy 'head'",
    );
  const maxLength = Math.min(options.maxLength ?? SFT_DEFAULTS.maxLength, model.contextLength);
  const { examples } = truncateExamples(
    tokenizeRows(data.rows, tokenizer, undefined, chatTemplateFor(tokenizer)),
    maxLength,
  );
  const batchSize = options.batchSize ?? SFT_DEFAULTS.batchSize;
  const padId = tokenizer.eosId ?? 0;
  const batches = lmBatches(examples, {
    batchSize,
    maxLength,
    packing: false,
    shuffle: false,
    seed: 0,
    padId,
  });
  return evaluateBatches(model.gpu, model, new LmTask(model), batches);
}
