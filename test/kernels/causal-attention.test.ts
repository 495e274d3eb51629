import { describe } from 'vitest';
import { causalAttentionChecks } from '../../src/check/causal-attention.ts';
import { runChecks } from '../helpers/gpu.ts';

describe('fused causal attention kernels vs float64 reference', () => {
  runChecks(causalAttentionChecks);
});
