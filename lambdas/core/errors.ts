/**
 * Every error a pair can end with, as a stable code. Codes are part of the result contract:
 * users filter on them in SQL, so a code is never renamed or reused for another meaning.
 * docs/error-codes.md is generated from this table (`npm run schemas`; test/unit/contracts.test.ts checks it).
 */
export const ERROR_CODES = {
  IMAGE_MISSING: 'The image half of the pair does not exist (no such file or object).',
  IMAGE_EMPTY: 'The image file is empty (0 bytes).',
  IMAGE_TOO_MANY_BYTES: 'The image file is larger than the byte limit.',
  IMAGE_TOO_MANY_PIXELS: 'The image has more pixels than the pixel limit (a guard against decompression bombs).',
  IMAGE_TRUNCATED: 'The image data ends early or is corrupt part-way through.',
  IMAGE_UNREADABLE: 'The data is not an image in a format the decoder reads (PNG, JPEG, WebP, GIF, TIFF, AVIF).',
  TEXT_MISSING: 'The text half of the pair does not exist (no such file or object).',
  TEXT_EMPTY: 'The text is empty or only whitespace and control characters.',
  TEXT_INVALID_UTF8: 'The text is not valid UTF-8.',
  TEXT_TOO_MANY_BYTES: 'The text file is larger than the byte limit.',
  INPUT_INVALID: "The pair's description (a manifest line or event) is malformed.",
  INFERENCE_FAILED: 'The inference engine failed on this pair alone, while it still ran other pairs.',
  INTERNAL:
    "No longer written: unexpected errors are not the pair's fault and are retried (kept so the code is never reused).",
} as const;

export type ErrorCode = keyof typeof ERROR_CODES;

/**
 * Error codes a redrive runs again: a half that may have been uploaded since, an engine
 * failure that may not recur, and INTERNAL records of earlier versions.
 */
export const RETRYABLE_CODES: readonly ErrorCode[] = ['IMAGE_MISSING', 'TEXT_MISSING', 'INFERENCE_FAILED', 'INTERNAL'];
export const ERROR_CODE_NAMES = Object.keys(ERROR_CODES) as [ErrorCode, ...ErrorCode[]];

/** Base class of the project's errors. */
export class FusebatchError extends Error {
  override name = 'FusebatchError';
}

/** A problem with one pair: it becomes that pair's error record, never its batch's. */
export class PairError extends FusebatchError {
  override name = 'PairError';
  constructor(
    readonly code: ErrorCode,
    message: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

/** A model bundle that cannot be used: every problem found, each with its path. */
export class ModelBundleError extends FusebatchError {
  override name = 'ModelBundleError';
  constructor(
    readonly bundle: string,
    readonly problems: string[],
  ) {
    super(`model bundle ${bundle} is not usable:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
  }
}

/** An engine that cannot start (for instance CUDA that cannot load): never silently replaced. */
export class EngineError extends FusebatchError {
  override name = 'EngineError';
}

/** Not the data's fault and not final: the work is retried later (another ingest holds the job, say). */
export class RetryLaterError extends FusebatchError {
  override name = 'RetryLaterError';
}
