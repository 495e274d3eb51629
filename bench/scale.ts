// `npm run bench:scale`: real model sizes with random weights made on the fly (no download): GPT-2 124M and a
// SmolLM2-135M-shaped Llama, a few SFT steps each, for full float32, LoRA, and full with gradient checkpointing. Per
// configuration (issue #14's three: full float32, LoRA on a bf16 base, full with gradient checkpointing): the
// analytical minimum (weights + gradients + AdamW state), the memory planner's figure (the step run on the meta
// device, before any weight exists), the buffer pool's measured peak, and the step time, then the goals
// checked. One step of the 124M model at B 4 × T 512 takes minutes on SwiftShader: --batch-size/--max-length/--steps
// make it a smoke test, --plan-only gives the planner's figures alone (at the device's limits when one opens).
//   npm run bench:scale -- [--model gpt2-124m|smollm2-135m|all] [--config full|lora-bf16|checkpointed|lora-bf16-checkpointed|all]
//                          [--batch-size 4] [--max-length 512] [--steps 2] [--plan-only]
import { parseArgs } from 'node:util';
import { readFileSync } from 'node:fs';
import { createDevice } from '../src/gpu/device.ts';
import type { Gpu } from '../src/gpu/gpu.ts';
import { metaLimitsOf } from '../src/gpu/meta-device.ts';
import { createModelFromConfig } from '../src/models/load-model.ts';
import { AdamW } from '../src/optim/adamw.ts';
import { applyStrategy } from '../src/sft/finetune-modes.ts';
import { attachLora, LORA_DEFAULTS } from '../src/sft/lora.ts';
import { storeWeights } from '../src/nn/weight-dtype.ts';
import { storageBytes } from '../src/util/half.ts';
import { describePlan, planMemory, type PlanSettings } from '../src/sft/memory-plan.ts';
import { LmTask } from '../src/sft/tasks.ts';
import { Rng } from '../src/util/random.ts';
import { InputError } from '../src/util/errors.ts';
import { median } from './suite.ts';

const GPT2 = JSON.parse(
  readFileSync(new URL('../assets/gpt2-shakespeare/config.json', import.meta.url), 'utf8'),
) as Record<string, unknown>;

/** The real shapes (the configs on the Hugging Face hub: gpt2, HuggingFaceTB/SmolLM2-135M). */
export const SCALE_MODELS: Record<string, Record<string, unknown>> = {
  'gpt2-124m': {
    ...GPT2,
    n_embd: 768,
    n_layer: 12,
    n_head: 12,
    n_positions: 1024,
    n_ctx: 1024,
    vocab_size: 50257,
  },
  'smollm2-135m': {
    model_type: 'llama',
    architectures: ['LlamaForCausalLM'],
    hidden_size: 576,
    num_hidden_layers: 30,
    num_attention_heads: 9,
    num_key_value_heads: 3,
    intermediate_size: 1536,
    vocab_size: 49152,
    tie_word_embeddings: true,
    max_position_embeddings: 8192,
    rms_norm_eps: 1e-5,
    rope_theta: 100000,
    hidden_act: 'silu',
    bos_token_id: 0,
    eos_token_id: 0,
  },
};

const CONFIGS: Record<string, Pick<PlanSettings, 'strategy' | 'gradientCheckpointing' | 'dtype'>> = {
  full: { strategy: 'full', gradientCheckpointing: false, dtype: 'float32' },
  'lora-bf16': { strategy: 'lora', gradientCheckpointing: false, dtype: 'bfloat16' },
  checkpointed: { strategy: 'full', gradientCheckpointing: true, dtype: 'float32' },
  // LoRA keeps every block's activations like full training (more: the adapters' dropout): under 1 GiB needs both.
  'lora-bf16-checkpointed': { strategy: 'lora', gradientCheckpointing: true, dtype: 'bfloat16' },
};

/** Issue #14's goals: a model, configuration and shape, and the most its measured peak (else its plan) may be. */
const GOALS = [
  { model: 'gpt2-124m', config: 'checkpointed', batchSize: 4, length: 512, bytes: 3 * 2 ** 30 },
  { model: 'smollm2-135m', config: 'lora-bf16-checkpointed', batchSize: 4, length: 512, bytes: 2 ** 30 },
];
const PEAK_OVER_PLAN = 1.25;

const MiB = (bytes: number) => `${(bytes / 2 ** 20).toFixed(0)} MiB`;

/** Random weights as transformers initialises them: normal(0, 0.02) matrices (uniform of that spread), norms 1, biases 0. */
function randomWeights(model: ReturnType<typeof createModelFromConfig>, seed: number): void {
  const rng = new Rng(seed);
  const spread = 0.02 * Math.sqrt(3);
  for (const [name, p] of model.namedParameters()) {
    if (p.shape.length >= 2) model.load(name, rng.uniform(p.size, -spread, spread));
    else if (/(ln_|norm)/.test(name) && name.endsWith('weight'))
      model.load(name, new Float32Array(p.size).fill(1));
  }
}

interface Measured {
  peak: number;
  stepMs: number[];
  losses: number[];
}

async function measure(
  gpu: Gpu,
  raw: Record<string, unknown>,
  s: PlanSettings,
  steps: number,
): Promise<Measured> {
  const model = createModelFromConfig(gpu, raw, 'config.json');
  try {
    randomWeights(model, 1);
    model.gradientCheckpointing = s.gradientCheckpointing;
    if (s.strategy === 'lora') attachLora(model, s.lora ?? LORA_DEFAULTS, 0);
    applyStrategy(model, s.strategy, { freezeLayers: s.freezeLayers });
    await storeWeights(model, s.dtype ?? 'float32');
    // Random weights are made f32 and rounded here; a 16-bit file is loaded 16-bit (models/load-model.ts), so the
    // peak counts from the stored model on, as the planner does.
    gpu.pool.takePeakBytes();
    const optimizer = new AdamW(gpu, model.namedParameters(), { lr: 1e-4, clipGradNorm: 1 });
    const T = Math.min(s.maxLength, model.contextLength);
    const rng = new Rng(2);
    const out: Measured = { peak: 0, stepMs: [], losses: [] };
    model.train();
    for (let i = 0; i < steps; i++) {
      const ids = Int32Array.from({ length: s.batchSize * T }, () =>
        Math.floor(rng.next() * model.vocabSize),
      );
      const start = performance.now();
      {
        using _scope = gpu.scope('scale step');
        optimizer.zeroGrad();
        const { loss } = new LmTask(model).loss({ ids, targets: ids, B: s.batchSize, T, tokens: ids.length });
        loss.backward();
        optimizer.step();
        out.losses.push((await loss.readF32())[0]);
      }
      out.stepMs.push(performance.now() - start);
      console.log(
        `  step ${i + 1}/${steps}: loss ${out.losses.at(-1)!.toFixed(4)}, ${(out.stepMs.at(-1)! / 1000).toFixed(1)} s`,
      );
    }
    out.peak = gpu.pool.takePeakBytes();
    optimizer.dispose();
    return out;
  } finally {
    model.dispose();
  }
}

interface Row {
  model: string;
  config: string;
  batchSize: number;
  length: number;
  plan: number | null;
  measured?: Measured;
  text: string;
}

/** Parameters from the plan's bytes by storage dtype. */
const parameterCount = (byDtype: Record<string, number | undefined>) =>
  Object.entries(byDtype).reduce(
    (n, [dtype, bytes]) => n + (2 * (bytes ?? 0)) / storageBytes(dtype as 'f32', 2),
    0,
  );

/** Each goal: met or not by the measured peak at its shape, else by the plan there (say which). */
function checkGoals(rows: Row[]): string[] {
  const lines = GOALS.map((g) => {
    const row = rows.find(
      (r) =>
        r.model === g.model && r.config === g.config && r.batchSize === g.batchSize && r.length === g.length,
    );
    const what = `${g.model} ${g.config} B${g.batchSize}×T${g.length} under ${MiB(g.bytes)}`;
    if (!row || row.plan === null)
      return `goal ${what}: not run at this shape (--batch-size ${g.batchSize} --max-length ${g.length})`;
    const [bytes, source] = row.measured ? [row.measured.peak, 'measured peak'] : [row.plan, 'plan only'];
    return `goal ${what}: ${bytes <= g.bytes ? 'met' : 'MISSED'}, ${source} ${MiB(bytes)}`;
  });
  for (const r of rows.filter((r) => r.measured && r.plan !== null)) {
    const ratio = r.measured!.peak / r.plan!;
    lines.push(
      `goal ${r.model} ${r.config} peak ≤ ${PEAK_OVER_PLAN}× plan: ${ratio <= PEAK_OVER_PLAN ? 'met' : 'MISSED'}, ${ratio.toFixed(3)}×`,
    );
  }
  return lines;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      model: { type: 'string', default: 'all' },
      config: { type: 'string', default: 'all' },
      'batch-size': { type: 'string', default: '4' },
      'max-length': { type: 'string', default: '512' },
      steps: { type: 'string', default: '2' },
      'plan-only': { type: 'boolean', default: false },
    },
  });
  const models = values.model === 'all' ? Object.keys(SCALE_MODELS) : [values.model!];
  const configs = values.config === 'all' ? Object.keys(CONFIGS) : [values.config!];
  for (const name of [...models, ...configs])
    if (!SCALE_MODELS[name] && !CONFIGS[name])
      throw new Error(
        `bench:scale: '${name}', expected one of ${[...Object.keys(SCALE_MODELS), ...Object.keys(CONFIGS)].join(', ')}`,
      );
  // The device's own limits (SwiftShader binds 1 GiB), also for --plan-only: opening a device allocates nothing.
  const gpu = await createDevice();
  const rows: Row[] = [];
  for (const modelName of models) {
    for (const configName of configs) {
      const raw = SCALE_MODELS[modelName];
      const s: PlanSettings = {
        ...CONFIGS[configName],
        freezeLayers: 0,
        dropout: null,
        batchSize: Number(values['batch-size']),
        maxLength: Number(values['max-length']),
      };
      const shape = `${modelName} ${configName} B${s.batchSize}×T${s.maxLength}`;
      const plan = await planMemory(raw, `${modelName}/config.json`, s, metaLimitsOf(gpu)).catch(
        (e: unknown) => {
          if (!(e instanceof InputError)) throw e;
          rows.push({
            model: modelName,
            config: configName,
            batchSize: s.batchSize,
            length: s.maxLength,
            plan: null,
            text: `${shape} | refused by the planner: ${e.message.split('\n')[0]}`,
          });
          return null;
        },
      );
      if (!plan) continue;
      const minimum = plan.frozenWeights + plan.trainedWeights * 4; // weights, gradients, m, v
      console.log(
        `${modelName} ${configName}: ${parameterCount(plan.weightsByDtype).toLocaleString('en-US')} parameters; ${describePlan(plan)}`,
      );
      const row: Row = {
        model: modelName,
        config: configName,
        batchSize: plan.batchSize,
        length: plan.length,
        plan: plan.peak,
        text: '',
      };
      let measured = '';
      if (!values['plan-only']) {
        gpu.pool.trim();
        gpu.pool.takePeakBytes();
        const m = await measure(gpu, raw, s, Number(values.steps));
        row.measured = m;
        const ms = median(m.stepMs.slice(1).length ? m.stepMs.slice(1) : m.stepMs);
        measured = ` | measured peak ${MiB(m.peak)} (${(m.peak / plan.peak).toFixed(3)}× plan) | step ${(ms / 1000).toFixed(1)} s, ${((plan.batchSize * plan.length) / (ms / 1000)).toFixed(2)} tokens/s`;
      }
      row.text = `${modelName} ${configName} B${plan.batchSize}×T${plan.length} | minimum ${MiB(minimum)} | plan ${MiB(plan.peak)}${measured}`;
      rows.push(row);
      console.log(`  ${row.text}`);
    }
  }
  console.log(
    `\ndevice: ${gpu.description} (maxStorageBufferBindingSize ${MiB(gpu.limits.maxStorageBufferBindingSize)}, maxBufferSize ${MiB(gpu.limits.maxBufferSize)})`,
  );
  for (const row of rows) console.log(row.text);
  for (const line of checkGoals(rows)) console.log(line);
  gpu.dispose();
}

await main();
