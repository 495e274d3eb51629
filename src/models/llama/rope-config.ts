// RoPE settings of a Llama-family config.json: rope_theta and the frequency rescaling. transformers ≥ 5 writes
// rope_parameters { rope_type, rope_theta, ...scaling fields }; older files write rope_theta beside rope_scaling
// { rope_type (or 'type'), ... }. Plain ('default') and Llama 3 ('llama3') RoPE are read; any other rope_type
// (linear, dynamic, yarn, longrope, ...) is refused naming the field.
import { WeightsError } from '../../util/errors.ts';
import { show } from '../../io/quote.ts';
import type { Llama3RopeScaling } from '../../ops/rope-frequencies.ts';

export interface RopeConfig {
  theta: number;
  /** Llama 3's frequency rescaling; undefined for plain RoPE. */
  scaling?: Llama3RopeScaling;
}

const LLAMA3_FIELDS = [
  'factor',
  'low_freq_factor',
  'high_freq_factor',
  'original_max_position_embeddings',
] as const;

export function parseRopeConfig(raw: Record<string, unknown>, file: string): RopeConfig {
  const key = raw.rope_parameters != null ? 'rope_parameters' : 'rope_scaling';
  const spec = raw[key] ?? {};
  const where = (field: string) => `${file}: field '${key}.${field}'`;
  if (typeof spec !== 'object' || Array.isArray(spec)) {
    throw new WeightsError(`${file}: field '${key}', expected an object or null, got ${show(spec)}`);
  }
  const r = spec as Record<string, unknown>;
  const type = r.rope_type ?? r.type ?? 'default';
  if (type !== 'default' && type !== 'llama3') {
    throw new WeightsError(
      `${where('rope_type')}, expected 'default' or 'llama3', got ${show(type)}`,
      'linear, dynamic, yarn and longrope RoPE scaling are not implemented',
    );
  }
  if ((r.partial_rotary_factor ?? 1) !== 1) {
    throw new WeightsError(
      `${where('partial_rotary_factor')}, expected 1, got ${show(r.partial_rotary_factor)}`,
      'RoPE on part of the head is not implemented',
    );
  }
  const thetaField =
    key === 'rope_parameters' && r.rope_theta !== undefined ? `${key}.rope_theta` : 'rope_theta';
  const theta = (key === 'rope_parameters' ? r.rope_theta : undefined) ?? raw.rope_theta ?? 10000;
  if (typeof theta !== 'number' || !(theta > 0) || !Number.isFinite(theta)) {
    throw new WeightsError(`${file}: field '${thetaField}', expected a positive number, got ${show(theta)}`);
  }
  if (type === 'default') return { theta };
  const v: Record<string, number> = {};
  for (const f of LLAMA3_FIELDS) {
    const x = r[f];
    if (typeof x !== 'number' || !(x > 0) || !Number.isFinite(x)) {
      throw new WeightsError(`${where(f)}, expected a positive number (rope_type 'llama3'), got ${show(x)}`);
    }
    v[f] = x;
  }
  if (!(v.high_freq_factor > v.low_freq_factor)) {
    throw new WeightsError(
      `${where('high_freq_factor')}, expected more than low_freq_factor ${v.low_freq_factor}, got ${v.high_freq_factor}`,
    );
  }
  return {
    theta,
    scaling: {
      type: 'llama3',
      factor: v.factor,
      lowFreqFactor: v.low_freq_factor,
      highFreqFactor: v.high_freq_factor,
      originalMaxPositions: v.original_max_position_embeddings,
    },
  };
}
