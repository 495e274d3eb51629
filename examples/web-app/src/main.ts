// Load the model from static files, show a reply, fine-tune a few steps showing the loss, show the reply again.
import { createDevice, fineTune, generate, loadModelFromFiles, modelInput } from 'webgpu-sft';

const MODEL = 'stories260K-hf';
const FILES = ['config.json', 'model.safetensors', 'tokenizer.model'];
const TRAIN = [
  { prompt: 'Q: What does the cat like?\nA:', completion: ' The cat likes fish.' },
  { prompt: 'Q: What does the dog like?\nA:', completion: ' The dog likes bones.' },
];

const log = (line: string) => (document.querySelector('#log')!.textContent += `${line}\n`);

async function main(): Promise<void> {
  const gpu = await createDevice();
  const files = new Map<string, Blob>();
  for (const name of FILES) files.set(name, await (await fetch(`${MODEL}/${name}`)).blob());
  const { model, tokenizer } = await loadModelFromFiles(gpu, files);

  const prompt = TRAIN[0].prompt;
  const reply = async () => {
    const ids = await generate(model.eval(), modelInput(tokenizer, tokenizer.encode(prompt)), {
      maxNewTokens: 12,
    });
    return tokenizer.decode(ids);
  };
  const before = await reply();
  log(`before: ${before}`);

  const losses: number[] = [];
  const result = await fineTune({
    model,
    tokenizer,
    train: TRAIN,
    batchSize: 2,
    epochs: 8,
    lr: 3e-3,
    lrSchedule: 'constant',
    onEvent: (e) => {
      if (e.type !== 'step') return;
      losses.push(e.loss);
      log(`step ${e.step}: loss ${e.loss.toFixed(3)}`);
    },
  });
  const after = await reply();
  log(`after: ${after}`);
  document.body.dataset.result = JSON.stringify({ before, after, losses, steps: result.steps });
}

main().catch((e: unknown) => {
  log(String(e));
  document.body.dataset.error = String(e);
});
