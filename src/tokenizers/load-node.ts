// Node loader: a tokenizer from a Hugging Face model folder on disk, chosen as load-tokenizer.ts describes.
import { folderFiles } from '../io/named-files-node.ts';
import { loadTokenizerFrom } from './load-tokenizer.ts';
import type { Tokenizer } from './tokenizer.ts';

export async function loadTokenizer(folder: string): Promise<Tokenizer> {
  return loadTokenizerFrom(await folderFiles(folder, 'tokenizer'));
}
