// Checkpoint folders carry what transformers needs to load them alone (tools/check_transformers_load.py is the
// full check): a tokenizer_config.json naming the tokenizer class when the source folder has none, with the special
// and pad tokens of the config, and without changing what this engine reads back.
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { testGpu } from '../helpers/gpu.ts';
import { loadModel, readConfigJson } from '../../src/models/load-node.ts';
import { loadTokenizer } from '../../src/tokenizers/load-node.ts';
import { saveCheckpoint } from '../../src/sft/checkpoint-node.ts';
import { tokenizerConfigFor } from '../../src/sft/tokenizer-config.ts';
import { chatTemplateFor } from '../../src/sft/chat-template.ts';

const gpuPromise = testGpu();
const LLAMA = 'assets/stories260K-hf'; // tokenizer.model only, no tokenizer_config.json
const GPT2 = 'assets/gpt2-shakespeare'; // vocab.json + merges.txt, no tokenizer_config.json
const TINY = 'assets/hf-fixtures/tiny_gpt2'; // has its own tokenizer_config.json
const TEXTS = ['Once upon a time, there was a little girl.', 'ROMEO:\nBut soft!', 'héllo 😀'];

const readJson = (path: string) => JSON.parse(readFileSync(path, 'utf8')) as Record<string, unknown>;

describe('saveCheckpoint tokenizer files', () => {
  it('a Llama classifier from a tokenizer.model-only folder gets tokenizer_config.json (LlamaTokenizer, pad = config pad id, BOS as trained) and reloads with the same ids and BOS', async () => {
    const gpu = await gpuPromise;
    const model = await loadModel(gpu, LLAMA);
    const source = await loadTokenizer(LLAMA);
    const padId = source.eosId!;
    const config = {
      ...model.rawConfig,
      architectures: ['LlamaForSequenceClassification'],
      id2label: { 0: 'a', 1: 'b' },
      label2id: { a: 0, b: 1 },
      num_labels: 2,
      pad_token_id: padId,
    };
    const out = mkdtempSync(join(tmpdir(), 'checkpoint-llama-'));
    try {
      await saveCheckpoint(out, { model, config, sourceFolder: LLAMA, trainingArgs: {} });
    } finally {
      model.dispose();
    }
    const written = readJson(join(out, 'tokenizer_config.json'));
    expect(written.tokenizer_class).toBe('LlamaTokenizer');
    expect(written.bos_token).toBe(source.idToToken(source.bosId!));
    expect(written.eos_token).toBe(source.idToToken(source.eosId!));
    expect(written.pad_token).toBe(source.idToToken(padId));
    expect(source.addBosToken).toBe(true); // a Llama's sequences begin with <s>
    expect(written.add_bos_token).toBe(true);
    expect(written.model_max_length).toBe(model.rawConfig.max_position_embeddings);
    const { torch_dtype: _, ...rest } = JSON.parse(JSON.stringify(config)); // transformers 5 names it dtype
    expect(await readConfigJson(out)).toEqual({ ...rest, dtype: 'float32' });
    const reloaded = await loadTokenizer(out);
    for (const text of TEXTS) expect(reloaded.encode(text), text).toEqual(source.encode(text));
    expect(reloaded.addBosToken).toBe(true);
    const again = await loadModel(gpu, out); // the config with the head fields still loads here
    again.dispose();
  });

  it('a source tokenizer_config.json is kept, only a chat_template and a pad_token added where it has none', async () => {
    const gpu = await gpuPromise;
    const model = await loadModel(gpu, TINY);
    const out = mkdtempSync(join(tmpdir(), 'checkpoint-tiny-'));
    try {
      await saveCheckpoint(out, { model, config: model.rawConfig, sourceFolder: TINY, trainingArgs: {} });
    } finally {
      model.dispose();
    }
    const source = readJson(join(TINY, 'tokenizer_config.json'));
    const written = readJson(join(out, 'tokenizer_config.json'));
    const tokenizer = await loadTokenizer(TINY);
    expect(written).toEqual({
      ...source,
      chat_template: source.chat_template ?? chatTemplateFor(tokenizer).source,
      pad_token: source.pad_token ?? tokenizer.idToToken(tokenizer.eosId!),
    });
    expect(Object.keys(written).length).toBeGreaterThan(Object.keys(source).length); // TINY has neither
  });
});

describe('tokenizerConfigFor', () => {
  it('GPT-2: GPT2Tokenizer, no prefix space, context from n_positions, pad only when the config has one', async () => {
    const tokenizer = await loadTokenizer(GPT2);
    const config = await readConfigJson(GPT2);
    const lm = tokenizerConfigFor(config, tokenizer, 'test');
    expect(lm.tokenizer_class).toBe('GPT2Tokenizer');
    expect(lm.add_prefix_space).toBe(false);
    expect(lm.add_bos_token).toBe(false); // GPT-2 was trained without a BOS in front
    expect(lm.model_max_length).toBe(config.n_positions);
    expect(lm.eos_token).toBe(tokenizer.idToToken(tokenizer.eosId!));
    expect('pad_token' in lm).toBe(false);
    const head = tokenizerConfigFor({ ...config, pad_token_id: tokenizer.eosId }, tokenizer, 'test');
    expect(head.pad_token).toBe(tokenizer.idToToken(tokenizer.eosId!));
  });

  it('names the field when the model type is unknown or the pad id is not a token', async () => {
    const tokenizer = await loadTokenizer(GPT2);
    const config = await readConfigJson(GPT2);
    expect(() => tokenizerConfigFor({ ...config, model_type: 'bert' }, tokenizer, 'out/config.json')).toThrow(
      /out\/config.json: config field 'model_type'.*got "bert"/,
    );
    expect(() =>
      tokenizerConfigFor({ ...config, pad_token_id: tokenizer.vocabSize }, tokenizer, 'out/config.json'),
    ).toThrow(/pad_token_id.*50257/);
  });
});
