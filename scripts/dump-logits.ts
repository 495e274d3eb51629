// Writes what this engine computes for a model folder, for tools/check_transformers_load.py to compare with
// Hugging Face transformers: the token ids of each --text as the model reads them (BOS where it takes one), and the logits of those rows as one right-padded batch.
// Run: npx tsx scripts/dump-logits.ts --model <folder> --text "..." [--text "..."] --out <file.safetensors>
// The file holds `logits`: (B, T, V) for a causal LM, (B, num_labels) for a sequence classifier (score.weight
// applied at each row's last token); metadata holds the texts, ids, lengths, pad id and architecture as JSON.
import { parseArgs } from 'node:util';
import { join } from 'node:path';
import { createDevice } from '../src/gpu/device.ts';
import { Tensor } from '../src/autograd/tensor.ts';
import { noGrad } from '../src/autograd/tape.ts';
import { loadModel, readConfigJson } from '../src/models/load-node.ts';
import { loadTokenizer } from '../src/tokenizers/load-node.ts';
import { modelInput } from '../src/tokenizers/tokenizer.ts';
import { readSafetensorsPath, writeSafetensorsFile } from '../src/io/safetensors-node.ts';
import { SequenceClassifier } from '../src/sft/classifier.ts';

const { values } = parseArgs({
  options: { model: { type: 'string' }, text: { type: 'string', multiple: true }, out: { type: 'string' } },
});
const folder = values.model;
const texts = values.text ?? [];
if (!folder || !values.out || texts.length === 0) {
  console.error(
    'dump-logits: flags, expected --model <folder> --text "..." --out <file>, got ' +
      process.argv.slice(2).join(' '),
  );
  process.exit(2);
}

const config = await readConfigJson(folder);
const architecture = Array.isArray(config.architectures) ? String(config.architectures[0]) : '';
const isClassifier = architecture.endsWith('ForSequenceClassification');
const tokenizer = await loadTokenizer(folder);
const rows = texts.map((t) => modelInput(tokenizer, tokenizer.encode(t))); // BOS first where the model takes one
const empty = rows.findIndex((r) => r.length === 0);
if (empty >= 0)
  throw new Error(
    `dump-logits: --text ${empty}, expected at least one token, got none for ${JSON.stringify(texts[empty])}`,
  );
const padId = typeof config.pad_token_id === 'number' ? config.pad_token_id : (tokenizer.eosId ?? 0);
const B = rows.length;
const T = Math.max(...rows.map((r) => r.length));
const ids = new Int32Array(B * T).fill(padId); // (B·T), right-padded
rows.forEach((r, b) => ids.set(r, b * T));

const gpu = await createDevice();
const model = await loadModel(gpu, folder);
let logits: Float32Array;
let shape: number[];
{
  using _s = gpu.scope('dump-logits');
  const x = Tensor.from(gpu, ids, [B, T], { label: 'ids' });
  if (isClassifier) {
    const numLabels = Object.keys((config.id2label ?? {}) as object).length || Number(config.num_labels);
    const classifier = new SequenceClassifier(gpu, model, numLabels);
    const weights = await readSafetensorsPath(join(folder, 'model.safetensors'));
    classifier.load('score.weight', await weights.getF32('score.weight'));
    const last = Int32Array.from(rows, (r) => r.length - 1); // (B)
    logits = await noGrad(gpu, () => classifier.eval().forward(x, last)).readF32(); // (B, num_labels)
    shape = [B, numLabels];
  } else {
    logits = await noGrad(gpu, () => model.eval().forward(x)).readF32(); // (B, T, V)
    shape = [B, T, model.vocabSize];
  }
}
model.dispose();
await writeSafetensorsFile(values.out, [{ name: 'logits', dtype: 'F32', shape, data: logits }], {
  texts: JSON.stringify(texts),
  ids: JSON.stringify(rows),
  pad_token_id: String(padId),
  architecture,
  model: folder,
  device: gpu.description,
});
gpu.dispose();
console.log(
  `${values.out}: ${architecture} logits ${JSON.stringify(shape)} for ${B} texts (${rows.map((r) => r.length).join(', ')} tokens)`,
);
