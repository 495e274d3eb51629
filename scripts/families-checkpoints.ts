// Writes, for tools/check_families_load.py, a checkpoint of each test/fixtures/families model as the engine saves one
// after training: 2 AdamW steps on the fixture's train.json batch, then saveCheckpoint with config.json as job.ts
// writes it (architectures from model.hfClasses), plus engine-logits.safetensors: the trained model's logits on the
// ids of the fixture's reference.safetensors (F32 [12, V]) for transformers to reproduce from the folder alone.
// Run: npx tsx scripts/families-checkpoints.ts --out <folder>
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { createDevice } from '../src/gpu/device.ts';
import { Tensor } from '../src/autograd/tensor.ts';
import { noGrad } from '../src/autograd/tape.ts';
import * as F from '../src/autograd/functional.ts';
import { AdamW } from '../src/optim/adamw.ts';
import { loadModel } from '../src/models/load-node.ts';
import { readSafetensorsPath, writeSafetensorsFile } from '../src/io/safetensors-node.ts';
import { saveCheckpoint } from '../src/sft/checkpoint-node.ts';

const { values } = parseArgs({ options: { out: { type: 'string' } } });
if (!values.out) {
  console.error('families-checkpoints: --out, expected a folder, got nothing');
  process.exit(2);
}
const gpu = await createDevice();
for (const name of ['qwen2', 'qwen3', 'llama3', 'llama-bias']) {
  const folder = join('test/fixtures/families', name);
  const model = await loadModel(gpu, folder);
  const train = JSON.parse(readFileSync(join(folder, 'train.json'), 'utf8'));
  const [B, T] = [train.input_ids.length, train.input_ids[0].length];
  const opt = new AdamW(gpu, model.namedParameters(), { lr: 1e-3, weightDecay: 0.1, clipGradNorm: 1 });
  const ids = Tensor.from(gpu, Int32Array.from(train.input_ids.flat()), [B, T], { label: 'ids', persistent: true });
  const labels = Tensor.from(gpu, Int32Array.from(train.labels.flat()), [B * T], { label: 'labels', persistent: true });
  model.train();
  for (let step = 0; step < 2; step++) {
    using _step = gpu.scope('step');
    opt.zeroGrad();
    F.crossEntropy(F.reshape(model.forward(ids), [B * T, -1]), labels).backward();
    opt.step();
  }
  const out = join(values.out, name);
  const config = { ...model.rawConfig, architectures: [model.hfClasses.causalLm] };
  await saveCheckpoint(out, { model, config, sourceFolder: folder, trainingArgs: { max_steps: 2 } });
  const x = await (await readSafetensorsPath(join(folder, 'reference.safetensors'))).getInt32('ids');
  const logits = await (() => {
    using _s = gpu.scope('logits');
    return noGrad(gpu, () => model.eval().forward(Tensor.from(gpu, x, [1, x.length], { label: 'ids' }))).readF32();
  })();
  await writeSafetensorsFile(join(out, 'engine-logits.safetensors'), [
    { name: 'logits', dtype: 'F32', shape: [x.length, model.vocabSize], data: logits },
  ]);
  console.log(`${name}: ${model.hfClasses.causalLm} trained 2 steps, saved to ${out}`);
  opt.dispose();
  ids.dispose();
  labels.dispose();
  model.dispose();
}
gpu.dispose();
