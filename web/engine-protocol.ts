// The messages between the demo page and its engine Worker (web/engine-worker.ts), which owns the GPU device, the
// model, the data's job and the trainer, so the page's thread only draws. Requests carry an id and get one Reply;
// Notes stream while a request runs (status lines, self-test rows, train events, checkpoints, a lost device).
import type { DataRow, LoraSettings, SelftestRow, Strategy, TrainEvent } from '../src/advanced.ts';

/** The training form, validated on the page. */
export interface TrainSettings {
  strategy: Strategy;
  freezeLayers: number;
  lr: number;
  steps: number;
  batchSize: number;
  maxLength: number;
  trainRows: number;
  valRows: number;
  evalEvery: number;
  replyTokens: number;
  seed: number;
  lora: LoraSettings;
}

export type Request =
  | { op: 'open' }
  | { op: 'selftest'; filters: string[] }
  | { op: 'load-model'; files: [string, Blob][]; name: string }
  | { op: 'train'; settings: TrainSettings; rows: { train: DataRow[]; val: DataRow[] } }
  /** The weights to download: the job's (or the model's), or after a lost device the last evaluation's copy. */
  | { op: 'weights' }
  | { op: 'config' };

export interface Results {
  open: { description: string; software: boolean };
  selftest: { rows: SelftestRow[]; seed: number };
  'load-model': { info: string };
  train: {
    reason: string;
    steps: number;
    seconds: number;
    before: number;
    after: number;
    /** The head of this step was kept (the best validation loss), not the last step's. */
    keptStep: number | null;
  };
  weights: {
    bytes: Uint8Array;
    tensors: number;
    adapterConfig: Record<string, unknown> | null;
    step: number | null;
  };
  config: { config: Record<string, unknown>; tokenizerConfig: Record<string, unknown> };
}

/** Messages the page sends without waiting for a reply. */
export type Signal = { signal: 'stop' } | { signal: 'lose-device' };

export type Note =
  | { note: 'status'; text: string }
  | { note: 'selftest-row'; row: SelftestRow }
  | { note: 'train-start'; sampleInput: string; trainable: number; frozen: number }
  | { note: 'sample'; which: 'before' | 'after'; text: string }
  | { note: 'eval-before'; loss: number }
  | { note: 'event'; event: TrainEvent }
  | { note: 'checkpoint'; step: number }
  | { note: 'device-lost'; message: string; lastGoodStep: number | null };

export type Reply =
  | { id: number; ok: true; result: unknown }
  | { id: number; ok: false; error: { name: string; message: string } };

export type FromWorker = Reply | Note;
export type ToWorker = ({ id: number } & Request) | Signal;
