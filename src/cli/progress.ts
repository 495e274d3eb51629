// How training reports itself: a redrawn progress line on a TTY, plain lines otherwise, one JSON object per event
// with --json.
import type { SftEvent } from '../sft/run-node.ts';
import type { Metrics } from '../sft/trainer.ts';

function duration(seconds: number): string {
  if (!Number.isFinite(seconds)) return '?';
  const s = Math.round(seconds);
  return s >= 3600
    ? `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`
    : s >= 60
      ? `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`
      : `${s}s`;
}

function metricsLine(m: Metrics, baseline?: number): string {
  const acc = Number.isFinite(m.accuracy) ? `, accuracy ${(m.accuracy * 100).toFixed(1)}%` : '';
  const base = baseline !== undefined ? ` (majority baseline ${(baseline * 100).toFixed(1)}%)` : '';
  return `loss ${m.loss.toFixed(4)}, perplexity ${m.perplexity.toFixed(2)}${acc}${base} over ${m.count} targets`;
}

export function reporter(
  mode: 'json' | 'tty' | 'plain',
  write: (s: string) => void = (s) => process.stdout.write(s),
): (e: SftEvent) => void {
  let barOpen = false;
  const line = (s: string) => {
    if (barOpen) write('\n');
    barOpen = false;
    write(s + '\n');
  };
  return (e) => {
    if (mode === 'json') return write(JSON.stringify(e) + '\n');
    switch (e.type) {
      case 'info':
        return line(e.message);
      case 'before':
      case 'after':
      case 'test':
        return line(
          `${e.type === 'test' ? 'test' : `validation ${e.type} training`}: ${metricsLine(e.metrics, e.baseline)}`,
        );
      case 'sample':
        return line(
          `sample reply ${e.when} training:\n  prompt: ${JSON.stringify(e.prompt.slice(-200))}\n  reply:  ${JSON.stringify(e.reply)}`,
        );
      case 'step': {
        const eta = (e.elapsedSeconds / e.step) * (e.totalSteps - e.step);
        const text = `step ${e.step}/${e.totalSteps} epoch ${e.epoch + 1} loss ${e.loss.toFixed(4)} lr ${e.lr.toExponential(2)} |g| ${e.gradNorm.toFixed(2)} ${Math.round(e.tokensPerSecond)} tok/s ETA ${duration(eta)}`;
        if (mode === 'plain') return line(text);
        const width = 20;
        const filled = Math.round((width * e.step) / e.totalSteps);
        write(`\r[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${text}\x1b[K`);
        barOpen = true;
        return;
      }
      case 'eval':
        return line(`eval at step ${e.step}: ${metricsLine(e.metrics)}${e.best ? ' (best so far)' : ''}`);
      case 'early-stop':
        return line(
          `early stopping at step ${e.step}: no better validation loss for the patience window; restoring step ${e.bestStep} (loss ${e.bestLoss.toFixed(4)})`,
        );
      case 'nonfinite': {
        const what =
          e.what === 'weights'
            ? `the weights of ${e.tensor} became non-finite (NaN or Inf) in the update`
            : `the ${e.what === 'val-loss' ? 'validation ' : ''}loss became ${e.loss}`;
        return line(
          `error: at step ${e.step} ${what}; training stopped and the last good checkpoint was kept (lower --lr or set --clip-grad-norm)`,
        );
      }
      case 'done':
        return line(`done after ${e.step} steps (${e.reason})`);
    }
  };
}
