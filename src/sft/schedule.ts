// Learning-rate schedules: linear warmup from 0, then constant, linear decay to 0, or cosine decay to 0.

export type LrSchedule = 'constant' | 'linear' | 'cosine';

export interface ScheduleOptions {
  lr: number;
  schedule: LrSchedule;
  warmupSteps: number;
  totalSteps: number;
}

/** The learning rate for 1-based optimizer step `step`. */
export function lrAt(step: number, { lr, schedule, warmupSteps, totalSteps }: ScheduleOptions): number {
  if (warmupSteps > 0 && step <= warmupSteps) return (lr * step) / warmupSteps;
  if (schedule === 'constant') return lr;
  const span = Math.max(1, totalSteps - warmupSteps);
  const progress = Math.min(1, Math.max(0, (step - warmupSteps) / span));
  return schedule === 'linear' ? lr * (1 - progress) : lr * 0.5 * (1 + Math.cos(Math.PI * progress));
}
