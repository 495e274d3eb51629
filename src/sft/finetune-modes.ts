// The fine-tuning strategies: full (every parameter), freeze (layer-wise: embeddings and the first N blocks frozen,
// or only names matching a pattern trainable), head (feature-based: the whole backbone frozen, a new classification
// head trained) and lora (the backbone frozen, low-rank adapters trained: sft/lora.ts). Frozen parameters get no gradient and no optimizer state.
import { InputError } from '../util/errors.ts';
import type { LanguageModel } from '../models/language-model.ts';
import { isAdapterParameter } from '../nn/module.ts';

export type Strategy = 'full' | 'freeze' | 'head' | 'lora';

export interface StrategyOptions {
  freezeLayers?: number;
  /** A regular expression: only parameters whose HF name matches are trained. */
  trainable?: string;
}

export interface ParameterReport {
  trainable: number;
  frozen: number;
  trainableTensors: number;
  frozenTensors: number;
}

/** Set requiresGrad on every backbone parameter for `strategy`; returns the counts. */
export function applyStrategy(
  model: LanguageModel,
  strategy: Strategy,
  options: StrategyOptions = {},
): ParameterReport {
  const freezeLayers = options.freezeLayers ?? 0;
  if (!Number.isInteger(freezeLayers) || freezeLayers < 0 || freezeLayers > model.numLayers) {
    throw new InputError(
      `--freeze-layers: value, expected an integer in [0, ${model.numLayers}] (the model has ${model.numLayers} blocks), got ${freezeLayers}`,
    );
  }
  let pattern: RegExp | null = null;
  if (options.trainable) {
    try {
      pattern = new RegExp(options.trainable);
    } catch (e) {
      throw new InputError(
        `--trainable: pattern, expected a regular expression, got '${options.trainable}' (${(e as Error).message})`,
      );
    }
  }
  for (const [name, p] of model.namedParameters()) {
    if (strategy === 'head') p.requiresGrad = false;
    else if (strategy === 'lora')
      p.requiresGrad = isAdapterParameter(name); // attachLora added them
    else if (pattern) p.requiresGrad = pattern.test(name);
    else if (strategy === 'freeze') {
      const layer = model.layerIndex(name);
      p.requiresGrad = !(model.isEmbedding(name) || (layer !== null && layer < freezeLayers));
    } else p.requiresGrad = true;
  }
  if (pattern && !model.namedParameters().some(([, p]) => p.requiresGrad)) {
    throw new InputError(
      `--trainable: pattern '${options.trainable}', expected to match at least one parameter name, got none`,
      `names look like ${model.namedParameters()[0]?.[0]}`,
    );
  }
  return countParameters(model.namedParameters().map(([, p]) => p));
}

export function countParameters(params: { size: number; requiresGrad: boolean }[]): ParameterReport {
  const r: ParameterReport = { trainable: 0, frozen: 0, trainableTensors: 0, frozenTensors: 0 };
  for (const p of params) {
    if (p.requiresGrad) {
      r.trainable += p.size;
      r.trainableTensors++;
    } else {
      r.frozen += p.size;
      r.frozenTensors++;
    }
  }
  return r;
}
