// Prints the bench's B8×T128 SFT batch (the first dialogue training rows of assets/sft/dialogue/train.jsonl, tokenized,
// truncated and padded as the trainer does) as JSON {B, T, ids, targets}: the input of
// tools/gpt2_dialogue_grads_reference.py. Run: npx tsx tools/dialogue_batch.ts > /tmp/dialogue-batch.json
import { readBenchFiles } from '../bench/node.ts';
import { dialogueBatch, sftBatchShape } from '../bench/cases/sft-step.ts';

const { batchSize, maxLength } = sftBatchShape(false);
const batch = await dialogueBatch(readBenchFiles(), batchSize, maxLength);
console.log(JSON.stringify({ B: batch.B, T: batch.T, ids: Array.from(batch.ids), targets: Array.from(batch.targets) }));
