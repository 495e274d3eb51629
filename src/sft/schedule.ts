// Learning-rate schedules as transformers defines them (get_{constant,linear,cosine}_schedule_with_warmup): linear
// warmup from 0, then constant, linear decay or cosine decay. Steps count from 0 and step s runs at the rate for s,
// so the first step after warmup runs at the peak and the last one still above 0.

export type LrSchedule = 'constant' | 'linear' | 'cosine';

export interface ScheduleOptions {
  lr: number;
  schedule: LrSchedule;
  warmupSteps: number;
  totalSteps: number;
}

/** The learning rate of optimizer step `step`, counted from 0. */
export function lrAt(step: number, { lr, schedule, warmupSteps, totalSteps }: ScheduleOptions): number {
  if (step < warmupSteps) return (lr * step) / Math.max(1, warmupSteps);
  if (schedule === 'constant') return lr;
  const span = Math.max(1, totalSteps - warmupSteps);
  if (schedule === 'linear') return lr * Math.max(0, (totalSteps - step) / span);
  return lr * Math.max(0, 0.5 * (1 + Math.cos((Math.PI * (step - warmupSteps)) / span)));
}
