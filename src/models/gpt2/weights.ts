// GPT-2 weights in and out of Hugging Face safetensors. Engine names are GPT2LMHeadModel keys
// (`transformer.h.0.attn.c_attn.weight`); files saved from GPT2Model lack the `transformer.` prefix. Conv1D weights
// are [in, out] in both places, so nothing is transposed.
import { WeightsError } from '../../gpu/errors.ts';
import type { TensorStore } from '../../io/safetensors.ts';
import { shapeString } from '../../autograd/tensor.ts';
import type { Gpt2Model } from './model.ts';

const PREFIX = 'transformer.';
/** Non-parameter buffers some checkpoints carry (the causal mask), and heads other classes add. */
const IGNORED = [/\.attn\.bias$/, /\.attn\.masked_bias$/, /^score\.weight$/, /^score\.bias$/];

export async function loadGpt2Weights(model: Gpt2Model, store: TensorStore): Promise<void> {
  const names = [...store.tensors.keys()];
  const filePrefix = store.tensors.has(`${PREFIX}wte.weight`) ? PREFIX : store.tensors.has('wte.weight') ? '' : null;
  if (filePrefix === null) {
    throw new WeightsError(
      `${store.name}: tensor 'transformer.wte.weight', expected it (or 'wte.weight'), got none among ${names.length} tensors: ${names.slice(0, 5).join(', ')}${names.length > 5 ? ', ...' : ''}`,
      'is this a GPT-2 checkpoint?',
    );
  }
  const toFileKey = (name: string) => (name.startsWith(PREFIX) ? filePrefix + name.slice(PREFIX.length) : name);
  const expected = new Set<string>();
  for (const [name, param] of model.namedParameters()) {
    const key = toFileKey(name);
    expected.add(key);
    const info = store.tensors.get(key);
    if (!info) throw new WeightsError(`${store.name}: tensor '${key}', expected shape ${shapeString(param.shape)}, got no such tensor`);
    if (info.shape.length !== param.shape.length || info.shape.some((d, i) => d !== param.shape[i])) {
      throw new WeightsError(
        `${store.name}: tensor '${key}' has shape ${shapeString(info.shape)}, expected ${shapeString(param.shape)}`,
        key.includes('.c_') ? 'HF Conv1D weights are stored [in, out]' : 'does config.json match this file?',
      );
    }
    model.load(name, await store.getF32(key));
  }
  for (const key of names) {
    if (expected.has(key) || IGNORED.some((re) => re.test(key))) continue;
    if (key === 'lm_head.weight' && model.config.tieWordEmbeddings) continue; // tied: the head is wte
    throw new WeightsError(`${store.name}: tensor '${key}', expected only GPT-2 parameters, got an unknown tensor`, 'a different architecture, or a config that does not match');
  }
}
