// RoPE inverse frequencies inv_freq[i] (radians per position) for pair i < HS/2, shared by the kernel (which turns
// them into fixed-point turns) and the float64 reference. Plain RoPE: theta^(−2i/HS). Llama 3 ('llama3' rope_type)
// rescales by wavelength λ = 2π/inv_freq against the pretraining context N (original_max_position_embeddings):
// λ < N/high_freq_factor keeps inv_freq, λ > N/low_freq_factor divides it by factor, and the band between blends
// the two with s = (N/λ − low)/(high − low): (1 − s)·inv_freq/factor + s·inv_freq.

/** Llama 3's rope_scaling / rope_parameters (rope_type 'llama3'). */
export interface Llama3RopeScaling {
  type: 'llama3';
  factor: number;
  lowFreqFactor: number;
  highFreqFactor: number;
  originalMaxPositions: number;
}

/**
 * The HS/2 inverse frequencies. Llama 3's are computed in float64 and rounded to f32, the precision of the
 * inv_freq buffer transformers holds (its float32 blending lands up to ~3 ulps from this in the blended band).
 */
export function ropeInverseFrequencies(HS: number, theta: number, scaling?: Llama3RopeScaling): Float64Array {
  const inv = new Float64Array(HS / 2);
  for (let i = 0; i < HS / 2; i++) inv[i] = theta ** ((-2 * i) / HS);
  if (!scaling) return inv;
  const { factor, lowFreqFactor: low, highFreqFactor: high, originalMaxPositions: N } = scaling;
  for (let i = 0; i < inv.length; i++) {
    const wavelength = (2 * Math.PI) / inv[i];
    let f = inv[i];
    if (wavelength > N / low) f = inv[i] / factor;
    else if (wavelength >= N / high) {
      const s = (N / wavelength - low) / (high - low);
      f = ((1 - s) * inv[i]) / factor + s * inv[i];
    }
    inv[i] = Math.fround(f);
  }
  return inv;
}

/** A key naming the frequencies (for caches and messages). */
export function ropeKey(HS: number, theta: number, scaling?: Llama3RopeScaling): string {
  if (!scaling) return `HS=${HS} theta=${theta}`;
  const s = scaling;
  return `HS=${HS} theta=${theta} llama3(${s.factor}, ${s.lowFreqFactor}, ${s.highFreqFactor}, ${s.originalMaxPositions})`;
}
