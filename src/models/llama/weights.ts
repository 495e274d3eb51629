// Llama weights in and out of Hugging Face safetensors. Engine names are LlamaForCausalLM keys
// (`model.layers.0.self_attn.q_proj.weight`); files saved from the bare LlamaModel lack the `model.` prefix.
// Linear weights are [out, in] in both places, so nothing is transposed.
import { WeightsError } from '../../gpu/errors.ts';
import type { TensorStore } from '../../io/safetensors.ts';
import { shapeString } from '../../autograd/tensor.ts';
import type { LlamaModel } from './model.ts';

const PREFIX = 'model.';
/** Non-parameter buffers older checkpoints carry (RoPE frequencies, recomputed here), and heads other classes add. */
const IGNORED = [/\.rotary_emb\.inv_freq$/, /^score\.weight$/, /^score\.bias$/];

export async function loadLlamaWeights(model: LlamaModel, store: TensorStore): Promise<void> {
  const names = [...store.tensors.keys()];
  const filePrefix = store.tensors.has(`${PREFIX}embed_tokens.weight`) ? PREFIX : store.tensors.has('embed_tokens.weight') ? '' : null;
  if (filePrefix === null) {
    throw new WeightsError(
      `${store.name}: tensor 'model.embed_tokens.weight', expected it (or 'embed_tokens.weight'), got none among ${names.length} tensors: ${names.slice(0, 5).join(', ')}${names.length > 5 ? ', ...' : ''}`,
      'is this a Llama checkpoint?',
    );
  }
  const toFileKey = (name: string) => (name.startsWith(PREFIX) ? filePrefix + name.slice(PREFIX.length) : name);
  const expected = new Set<string>();
  for (const [name, param] of model.namedParameters()) {
    const key = toFileKey(name);
    expected.add(key);
    const info = store.tensors.get(key);
    if (!info) {
      const hint = key === 'lm_head.weight' ? 'no lm_head in the file: is tie_word_embeddings missing from config.json?' : key.endsWith('.bias') ? 'config.json asks for attention_bias or mlp_bias' : undefined;
      throw new WeightsError(`${store.name}: tensor '${key}', expected shape ${shapeString(param.shape)}, got no such tensor`, hint);
    }
    if (info.shape.length !== param.shape.length || info.shape.some((d, i) => d !== param.shape[i])) {
      throw new WeightsError(
        `${store.name}: tensor '${key}' has shape ${shapeString(info.shape)}, expected ${shapeString(param.shape)}`,
        key.endsWith('_proj.weight') ? 'Linear weights are [out, in]; check num_key_value_heads, head_dim and intermediate_size in config.json' : 'does config.json match this file?',
      );
    }
    model.load(name, await store.getF32(key));
  }
  for (const key of names) {
    if (expected.has(key) || IGNORED.some((re) => re.test(key))) continue;
    if (key === 'lm_head.weight' && model.config.tieWordEmbeddings) continue; // tied: the head is embed_tokens
    throw new WeightsError(
      `${store.name}: tensor '${key}', expected only Llama parameters, got an unknown tensor`,
      key.endsWith('.bias') ? 'config.json says attention_bias / mlp_bias false, but the file has biases' : 'a different architecture, or a config that does not match',
    );
  }
}
