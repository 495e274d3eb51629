// `webgpu-sft eval`: metrics of a model folder (a base model, or a checkpoint of ours) on a JSONL file. Labelled
// text needs a classification checkpoint (config.json id2label + score.weight).
import { join } from 'node:path';
import type { Gpu } from '../gpu/gpu.ts';
import { InputError } from '../util/errors.ts';
import { loadModelAndTokenizerFromFolder, readConfigJson } from '../models/load-node.ts';
import { readSafetensorsPath } from '../io/safetensors-node.ts';
import { readJsonlFile } from './dataset-node.ts';
import { tokenizeRows, truncateExamples } from './dataset.ts';
import { lmBatches } from './batching.ts';
import { classificationBatches, classificationData } from './classification.ts';
import { SequenceClassifier } from './classifier.ts';
import { ClassificationTask, LmTask } from './tasks.ts';
import { loadAdapter } from './adapter-node.ts';
import { evaluateBatches, type Metrics } from './trainer.ts';

export async function evaluateFile(gpu: Gpu, folder: string, dataPath: string, o: { maxLength: number; batchSize: number; adapter?: string }): Promise<Metrics & { examples: number }> {
  const { model, tokenizer } = await loadModelAndTokenizerFromFolder(gpu, folder);
  if (o.adapter) await loadAdapter(model, o.adapter).catch((e: unknown) => { model.dispose(); throw e; });
  const data = await readJsonlFile(dataPath);
  const maxLength = Math.min(o.maxLength, model.contextLength);
  const padId = tokenizer.eosId ?? 0;
  try {
    if (data.format === 'text-label') {
      const config = await readConfigJson(folder);
      const id2label = config.id2label as Record<string, string> | undefined;
      if (!id2label) throw new InputError(`${join(folder, 'config.json')}: id2label, expected the labels of a classification checkpoint, got none`, 'train one with --strategy head');
      const names = Object.keys(id2label).sort((a, b) => Number(a) - Number(b)).map((k) => id2label[k]);
      const classifier = new SequenceClassifier(gpu, model, names.length);
      const weights = await readSafetensorsPath(join(folder, 'model.safetensors'));
      classifier.load('score.weight', await weights.getF32('score.weight'));
      const template = typeof config.text_template === 'string' ? config.text_template : undefined; // from --template
      const { examples } = classificationData(data.rows, tokenizer, { maxLength, labels: names, template });
      const batches = classificationBatches(examples, { batchSize: o.batchSize, shuffle: false, seed: 0, padId });
      return { ...(await evaluateBatches(gpu, classifier, new ClassificationTask(classifier), batches)), examples: examples.length };
    }
    const { examples } = truncateExamples(tokenizeRows(data.rows, tokenizer), maxLength);
    const batches = lmBatches(examples, { batchSize: o.batchSize, maxLength, packing: false, shuffle: false, seed: 0, padId });
    return { ...(await evaluateBatches(gpu, model, new LmTask(model), batches)), examples: examples.length };
  } finally {
    model.dispose();
  }
}
