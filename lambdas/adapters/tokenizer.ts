/**
 * The tokenizer: a Hugging Face tokenizer.json through Hugging Face's own JavaScript
 * implementation (@huggingface/tokenizers). Special tokens are added as the file's
 * post-processor says; padding and truncation are the core's (manifest's maxLength).
 */
import { Tokenizer } from '@huggingface/tokenizers';
import type { TokenIdsEncoder } from '../core/text.js';

const PAD_TOKENS = ['[PAD]', '<pad>', '<|pad|>', '<PAD>'];

export class HuggingFaceTokenizer implements TokenIdsEncoder {
  readonly kind = 'ids';
  readonly padId: number;
  private readonly tokenizer: Tokenizer;

  /** @throws Error when the file is not a tokenizer the library can build, or has no pad id. */
  constructor(tokenizerJson: unknown, padTokenId?: number) {
    this.tokenizer = new Tokenizer(tokenizerJson as object, {});
    const found = PAD_TOKENS.map((t) => this.tokenizer.token_to_id(t)).find((id) => id !== undefined);
    const padId = padTokenId ?? found;
    if (padId === undefined) {
      throw new Error(`the tokenizer has none of the pad tokens ${PAD_TOKENS.join(', ')}: set inputs.text.padTokenId`);
    }
    this.padId = padId;
  }

  encode(text: string): number[] {
    return this.tokenizer.encode(text).ids;
  }
}
