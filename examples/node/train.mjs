// @ts-check
// Fine-tune a Hugging Face model folder for a few steps, save it, load it back and generate:
//   node train.mjs [model folder] [output folder]
import { fineTune, generate, modelInput } from 'webgpu-sft';
import { createDevice, loadModelAndTokenizerFromFolder, saveCheckpoint } from 'webgpu-sft/node';

const [folder = '../../assets/stories260K-hf', out = 'out'] = process.argv.slice(2);
const train = [
  { text: 'Once upon a time there was a little cat named Tom.' },
  { text: 'Tom liked to play in the garden with his red ball.' },
  { text: 'One day Tom saw a big dog. The dog was kind.' },
  { text: 'They played together and were happy.' },
];

const gpu = await createDevice();
const { model, tokenizer } = await loadModelAndTokenizerFromFolder(gpu, folder);
const result = await fineTune({
  model,
  tokenizer,
  train,
  batchSize: 2,
  maxSteps: 2,
  lr: 1e-3,
  onEvent: (e) => {
    if (e.type === 'step') console.log(`step ${e.step}: loss ${e.loss.toFixed(3)}`);
  },
});
await saveCheckpoint(out, { ...result, sourceFolder: folder, overwrite: true });
model.dispose();

const saved = await loadModelAndTokenizerFromFolder(gpu, out);
const prompt = modelInput(saved.tokenizer, saved.tokenizer.encode('Once upon a time'));
const ids = await generate(saved.model.eval(), prompt, { maxNewTokens: 20 });
console.log(`reply: ${saved.tokenizer.decode(ids)}`);
gpu.dispose();
