/**
 * Ground truth for the report, one JSON line per pair (the format of
 * models/reference/fixtures/eval/truth.jsonl): `id` and, per task, the expected value in the
 * form its kind defines (kinds/: a label, a list of labels, a number, 0/1, a PNG path relative
 * to the truth file, ...). Other fields are ignored; a task left out (or null) is not scored.
 */
import * as z from 'zod';
import { FusebatchError } from '../errors.js';
import { kindOf } from '../kinds/index.js';
import { formatIssues, type ModelManifest } from '../manifest.js';

export type Truth = { readonly id: string } & Record<string, unknown>;

export const truthLineSchema = (manifest: ModelManifest) =>
  z
    .object({
      id: z.string().min(1),
      ...Object.fromEntries(manifest.tasks.map((t) => [t.name, kindOf(t).truthSchema(t).nullable().optional()])),
    })
    .loose();

export class TruthFileError extends FusebatchError {
  override name = 'TruthFileError';
}

/** Parses a whole truth file; every bad line is reported at once, with its line number. */
export function parseTruth(manifest: ModelManifest, text: string, file: string): Map<string, Truth> {
  const reader = new TruthReader(manifest, file);
  for (const line of text.split('\n')) reader.line(line);
  return reader.done();
}

/**
 * A truth file read line by line (so a large one is never held as one string): `line` for
 * each line in order, then `done` for the truth by id (or, built with `keep: false`, nothing:
 * the caller keeps what `line` returns), or every problem at once.
 */
export class TruthReader {
  private readonly schema;
  private readonly truths = new Map<string, Truth>();
  private readonly problems: string[] = [];
  private lines = 0;

  constructor(
    manifest: ModelManifest,
    private readonly file: string,
    private readonly keep = true,
  ) {
    this.schema = truthLineSchema(manifest);
  }

  /** Checks one line; returns its truth, or undefined for a blank or bad line (kept as a problem). */
  line(line: string): Truth | undefined {
    const n = ++this.lines;
    if (!line.trim()) return undefined;
    let json: unknown;
    try {
      json = JSON.parse(line);
    } catch (error) {
      this.problems.push(`${this.file}:${n}: not JSON (${(error as Error).message})`);
      return undefined;
    }
    const parsed = this.schema.safeParse(json);
    if (!parsed.success) {
      this.problems.push(...formatIssues(parsed.error).map((p) => `${this.file}:${n}: ${p}`));
      return undefined;
    }
    const truth = parsed.data as Truth;
    if (this.keep) this.truths.set(truth.id, truth);
    return truth;
  }

  done(): Map<string, Truth> {
    const { problems } = this;
    if (problems.length) {
      const shown = problems.slice(0, 20).map((p) => `  - ${p}`);
      if (problems.length > 20) shown.push(`  - … and ${problems.length - 20} more`);
      throw new TruthFileError(`ground truth ${this.file} is not usable:\n${shown.join('\n')}`);
    }
    return this.truths;
  }
}
