// Autoregressive generation for any causal LM with a KV cache: greedy, temperature, top-k and top-p sampling from
// a seeded generator, stopping at EOS or after maxNewTokens. Logits of the last position are read back per token.
import { InputError } from '../util/errors.ts';
import type { Gpu } from '../gpu/gpu.ts';
import { noGrad } from '../autograd/tape.ts';
import type { Tensor } from '../autograd/tensor.ts';
import { Rng } from '../util/random.ts';

export interface CachedLM {
  readonly gpu: Gpu;
  readonly contextLength: number;
  readonly vocabSize: number;
  createCache(maxT?: number): { length: number; dispose(): void };
  forwardCached(ids: number[], cache: never): Tensor; // logits (1, n, V)
}

export interface GenerateOptions {
  maxNewTokens?: number;
  /** 0 = greedy (argmax). */
  temperature?: number;
  /** Keep the k most likely tokens; 0 = all. */
  topK?: number;
  /** Keep the smallest set whose probability reaches p; 1 = all. */
  topP?: number;
  seed?: number;
  /** Stop after this token (it is included in the output); null = never. */
  eosId?: number | null;
  onToken?: (id: number) => void;
}

/** New token ids after `prompt` (the prompt is not repeated). */
export async function generate(
  model: CachedLM,
  prompt: number[],
  options: GenerateOptions = {},
): Promise<number[]> {
  const { temperature = 0, topK = 0, topP = 1, eosId = null } = options;
  if (prompt.length === 0)
    throw new InputError(
      'generate: prompt, expected at least one token, got none',
      'start from the BOS/EOS id',
    );
  const maxNew = Math.min(options.maxNewTokens ?? 50, model.contextLength - prompt.length);
  if (maxNew < 0)
    throw new InputError(
      `generate: prompt length, expected ≤ ${model.contextLength} tokens, got ${prompt.length}`,
    );
  for (const id of prompt) {
    if (!Number.isInteger(id) || id < 0 || id >= model.vocabSize)
      throw new InputError(
        `generate: prompt token id, expected an integer in [0, ${model.vocabSize}), got ${id}`,
      );
  }
  const rng = new Rng(options.seed ?? 0);
  const gpu = model.gpu;
  const cache = model.createCache(prompt.length + maxNew);
  const out: number[] = [];
  try {
    let next = prompt;
    for (let i = 0; i < maxNew; i++) {
      using _step = gpu.scope('generate-step');
      const logits = noGrad(gpu, () => model.forwardCached(next, cache as never));
      const V = model.vocabSize;
      const last = await gpu.read(logits.buf(), 'f32', V, (next.length - 1) * V);
      const id = sample(last, temperature, topK, topP, rng);
      out.push(id);
      options.onToken?.(id);
      if (eosId !== null && id === eosId) break;
      next = [id];
    }
  } finally {
    cache.dispose();
  }
  return out;
}

export function sample(
  logits: Float32Array,
  temperature: number,
  topK: number,
  topP: number,
  rng: Rng,
): number {
  if (temperature <= 0) {
    let best = 0;
    for (let i = 1; i < logits.length; i++) if (logits[i] > logits[best]) best = i;
    return best;
  }
  let order = Array.from(logits.keys()).sort((a, b) => logits[b] - logits[a]);
  if (topK > 0) order = order.slice(0, topK);
  const max = logits[order[0]];
  let probs = order.map((i) => Math.exp((logits[i] - max) / temperature));
  let total = probs.reduce((a, b) => a + b, 0);
  if (topP < 1) {
    let acc = 0;
    let keep = 0;
    while (keep < probs.length && acc < topP * total) acc += probs[keep++];
    order = order.slice(0, Math.max(1, keep));
    probs = probs.slice(0, order.length);
    total = probs.reduce((a, b) => a + b, 0);
  }
  let u = rng.next() * total;
  for (let k = 0; k < order.length; k++) {
    u -= probs[k];
    if (u <= 0) return order[k];
  }
  return order[order.length - 1];
}
