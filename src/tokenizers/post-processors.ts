// tokenizer.json post-processors: the special tokens a model's sequences start and end with (TemplateProcessing's
// single template, RobertaProcessing's and BertProcessing's cls/sep) and ByteLevel / RobertaProcessing's
// trim_offsets, which moves offsets off the spaces a token starts or ends with. Sequence combines them.
import { WeightsError } from '../util/errors.ts';
import { show } from '../io/quote.ts';
import type { Offsets } from './offsets.ts';

export interface PostProcessor {
  prefix: number[]; // ids before the text's (BOS)
  suffix: number[]; // ids after it (EOS)
  trim: { addPrefixSpace: boolean } | null; // trim_offsets
}

export const NO_POST_PROCESSOR: PostProcessor = { prefix: [], suffix: [], trim: null };

export function parsePostProcessor(spec: unknown, where: string): PostProcessor {
  if (spec == null) return NO_POST_PROCESSOR;
  const o = spec as Record<string, unknown>;
  const refuse = (what: string): never => {
    throw new WeightsError(
      `${where}: post_processor is not supported, expected ByteLevel, TemplateProcessing, RobertaProcessing, ` +
        `BertProcessing or a Sequence of them, got ${what}`,
    );
  };
  const trim = o.trim_offsets === true ? { addPrefixSpace: o.add_prefix_space === true } : null;
  const token = (pair: unknown, name: string): number =>
    Array.isArray(pair) && Number.isInteger(pair[1]) ? (pair[1] as number) : refuse(`${name} ${show(pair)}`);
  switch (o.type) {
    case 'ByteLevel':
      return { prefix: [], suffix: [], trim };
    case 'RobertaProcessing':
      return { prefix: [token(o.cls, 'cls')], suffix: [token(o.sep, 'sep')], trim };
    case 'BertProcessing':
      return { prefix: [token(o.cls, 'cls')], suffix: [token(o.sep, 'sep')], trim: null };
    case 'TemplateProcessing':
      return template(o, refuse);
    case 'Sequence': {
      if (!Array.isArray(o.processors)) refuse('a Sequence without a processors list');
      const parts = (o.processors as unknown[]).map((p, k) =>
        parsePostProcessor(p, `${where}.processors[${k}]`),
      );
      const specials = parts.filter((p) => p.prefix.length + p.suffix.length > 0);
      if (specials.length > 1) refuse('a Sequence with two processors that add special tokens');
      return {
        prefix: specials[0]?.prefix ?? [],
        suffix: specials[0]?.suffix ?? [],
        trim: parts.find((p) => p.trim)?.trim ?? null,
      };
    }
    default:
      return refuse(typeof o.type === 'string' ? o.type : show(o.type));
  }
}

// The single-sequence template: special tokens around one `$A`.
function template(o: Record<string, unknown>, refuse: (what: string) => never): PostProcessor {
  const items = Array.isArray(o.single) ? (o.single as Record<string, { id?: unknown }>[]) : [];
  const specials = (o.special_tokens ?? {}) as Record<string, { ids?: unknown }>;
  const at = items.findIndex((item) => item?.Sequence?.id === 'A');
  if (at < 0 || items.some((item, k) => k !== at && item?.SpecialToken === undefined)) {
    refuse(`TemplateProcessing with single ${show(o.single)}`);
  }
  const ids = (list: typeof items): number[] =>
    list.flatMap((item) => {
      const found = specials[String(item.SpecialToken.id)]?.ids;
      return Array.isArray(found) && found.every(Number.isInteger)
        ? (found as number[])
        : refuse(`TemplateProcessing special token ${show(item.SpecialToken.id)} without ids`);
    });
  return { prefix: ids(items.slice(0, at)), suffix: ids(items.slice(at + 1)), trim: null };
}

const SPACE_CHAR = '\u0120'; // Ġ: the space byte's character

/**
 * Hugging Face's ByteLevel trim_offsets: a token's offsets lose its leading and trailing spaces (Ġ or
 * whitespace characters of its string), except the one space add_prefix_space put before the first token.
 */
export function trimOffsets(tokens: readonly string[], offsets: Offsets, addPrefixSpace: boolean): void {
  const space = (c: string): boolean => c === SPACE_CHAR || /\p{White_Space}/u.test(c);
  tokens.forEach((token, i) => {
    const chars = [...token];
    let lead = 0;
    while (lead < chars.length && space(chars[lead])) lead++;
    let trail = 0;
    while (trail < chars.length && space(chars[chars.length - 1 - trail])) trail++;
    const o = offsets[i];
    if (lead > 0) {
      if ((i === 0 || o[0] === 0) && addPrefixSpace && lead === 1) lead = 0;
      o[0] = Math.min(o[0] + lead, o[1]);
    }
    if (trail > 0 && o[1] >= trail) o[1] = Math.max(o[1] - trail, o[0]);
  });
}
