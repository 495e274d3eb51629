// The page's training job: the shared job (src/sft/job.ts) with the form's settings, the page's wording in errors
// and progress lines in the status bar. Runs here are short: no packing, always shuffled, the config's dropout.
import {
  buildJob as buildSftJob,
  type DataRow,
  type Job,
  type LanguageModel,
  type LoraSettings,
  type Strategy,
  type Tokenizer,
} from '../src/advanced.ts';

export type { Job };

export interface JobSettings {
  strategy: Strategy;
  freezeLayers: number;
  batchSize: number;
  maxLength: number;
  seed: number;
  /** Tokens generated for the sample reply. */
  replyTokens: number;
  /** LoRA: the adapters' settings. */
  lora?: LoraSettings;
}

export function buildJob(
  model: LanguageModel,
  tokenizer: Tokenizer,
  data: { train: DataRow[]; val: DataRow[] },
  s: JobSettings,
  status: (text: string) => void,
): Promise<Job> {
  const settings = { ...s, packing: false, shuffle: true, dropout: null, sampleTokens: s.replyTokens };
  return buildSftJob(model, tokenizer, data, settings, {
    name: (setting) => setting,
    data: 'data',
    info: status,
  });
}
