// `webgpu-sft eval`: metrics of a model folder (a base model, or a checkpoint of ours) on a JSONL file. Labelled
// text needs a classification checkpoint (config.json id2label + score.weight).
import { join } from 'node:path';
import type { Gpu } from '../gpu/gpu.ts';
import { InputError } from '../util/errors.ts';
import { loadModelAndTokenizerFromFolder, readConfigJson } from '../models/load-node.ts';
import { readSafetensorsPath } from '../io/safetensors-node.ts';
import type { WeightDtype } from '../nn/weight-dtype.ts';
import { readJsonlFile } from './dataset-node.ts';
import { tokenizeRows, truncateExamples } from './dataset.ts';
import { chatTemplateFor, FALLBACK_NOTE } from './chat-template.ts';
import { lmBatches } from './batching.ts';
import { classificationBatches, classificationData } from './classification.ts';
import { SequenceClassifier } from './classifier.ts';
import { ClassificationTask, LmTask } from './tasks.ts';
import { loadAdapter, readAdapterConfig } from './adapter-node.ts';
import { evaluateBatches, type Metrics } from './trainer.ts';

export async function evaluateFile(
  gpu: Gpu,
  folder: string,
  dataPath: string,
  o: {
    maxLength: number;
    batchSize: number;
    adapter?: string;
    dtype?: WeightDtype;
    log?: (message: string) => void;
  },
): Promise<Metrics & { examples: number }> {
  const data = await readJsonlFile(dataPath); // bad rows are refused before the model loads
  const { model, tokenizer } = await loadModelAndTokenizerFromFolder(gpu, folder, {
    dtype: o.dtype ?? 'float32',
  });
  const maxLength = Math.min(o.maxLength, model.contextLength);
  const padId = tokenizer.eosId ?? 0;
  try {
    // A classifier's LoRA adapter holds its head and labels; a head checkpoint, the model folder does.
    const classifierAdapter =
      o.adapter && data.format === 'text-label' && (await readAdapterConfig(o.adapter)).head;
    if (o.adapter && !classifierAdapter) await loadAdapter(model, o.adapter);
    if (data.format === 'text-label') {
      const labelled = classifierAdapter ? o.adapter! : folder;
      const config = await readConfigJson(labelled);
      const id2label = config.id2label as Record<string, string> | undefined;
      if (!id2label)
        throw new InputError(
          `${join(labelled, 'config.json')}: id2label, expected the labels of a classification checkpoint, got none`,
          'train one with --strategy head or lora on labelled rows',
        );
      const names = Object.keys(id2label)
        .sort((a, b) => Number(a) - Number(b))
        .map((k) => id2label[k]);
      const classifier = new SequenceClassifier(gpu, model, names.length);
      if (classifierAdapter) await loadAdapter(model, o.adapter!, classifier.score);
      else
        classifier.load(
          'score.weight',
          await (await readSafetensorsPath(join(folder, 'model.safetensors'))).getF32('score.weight'),
        );
      const template = typeof config.text_template === 'string' ? config.text_template : undefined; // from --template
      const { examples } = classificationData(data.rows, tokenizer, { maxLength, labels: names, template });
      const batches = classificationBatches(examples, {
        batchSize: o.batchSize,
        shuffle: false,
        seed: 0,
        padId,
      });
      return {
        ...(await evaluateBatches(gpu, classifier, new ClassificationTask(classifier), batches)),
        examples: examples.length,
      };
    }
    const chat = chatTemplateFor(tokenizer);
    if (data.format === 'messages' && chat.fallback) o.log?.(FALLBACK_NOTE);
    const { examples } = truncateExamples(tokenizeRows(data.rows, tokenizer, undefined, chat), maxLength);
    const batches = lmBatches(examples, {
      batchSize: o.batchSize,
      maxLength,
      packing: false,
      shuffle: false,
      seed: 0,
      padId,
    });
    return { ...(await evaluateBatches(gpu, model, new LmTask(model), batches)), examples: examples.length };
  } finally {
    model.dispose();
  }
}
