/**
 * A ground-truth file indexed by pair id, for reports of jobs of any size: every line is
 * checked once (all problems reported together), but only where each line lies in the file is
 * kept; a pair's truth is read back from the file when asked for. So the memory it takes is an
 * id and two numbers a line, not the parsed truth.
 */
import { createReadStream } from 'node:fs';
import { type FileHandle, open } from 'node:fs/promises';
import type { ModelManifest } from '../../lambdas/core/manifest.js';
import { type Truth, TruthReader } from '../../lambdas/core/report/truth.js';

const NEWLINE = 0x0a;

export class TruthFile {
  private constructor(
    private readonly handle: FileHandle,
    private readonly where: Map<string, { readonly offset: number; readonly length: number }>,
    private readonly reader: TruthReader,
  ) {}

  /** Checks and indexes `file`; throws TruthFileError listing every bad line. */
  static async open(manifest: ModelManifest, file: string): Promise<TruthFile> {
    const reader = new TruthReader(manifest, file, false);
    const where = new Map<string, { offset: number; length: number }>();
    const decoder = new TextDecoder();
    let pending: Buffer[] = [];
    let lineStart = 0; // byte offset of the line being read
    let position = 0; // byte offset of the chunk's start
    const take = (bytes: Buffer, end: number) => {
      const truth = reader.line(decoder.decode(bytes));
      if (truth) where.set(truth.id, { offset: lineStart, length: end - lineStart });
      lineStart = end + 1;
    };
    for await (const chunk of createReadStream(file) as AsyncIterable<Buffer>) {
      let from = 0;
      for (let i = chunk.indexOf(NEWLINE); i >= 0; i = chunk.indexOf(NEWLINE, i + 1)) {
        take(Buffer.concat([...pending, chunk.subarray(from, i)]), position + i);
        pending = [];
        from = i + 1;
      }
      if (from < chunk.length) pending.push(chunk.subarray(from));
      position += chunk.length;
    }
    if (pending.length) take(Buffer.concat(pending), position);
    reader.done();
    return new TruthFile(await open(file, 'r'), where, reader);
  }

  get size(): number {
    return this.where.size;
  }

  /** The truth line of a pair, read again from the file; undefined when the file has none. */
  async get(id: string): Promise<Truth | undefined> {
    const at = this.where.get(id);
    if (!at) return undefined;
    const bytes = Buffer.alloc(at.length);
    await this.handle.read(bytes, 0, at.length, at.offset);
    // Checked when indexed: a line that no longer parses means the file changed meanwhile.
    const truth = this.reader.line(bytes.toString('utf8'));
    if (!truth || truth.id !== id)
      throw new Error(`ground truth file changed while the report was written (pair ${id})`);
    return truth;
  }

  close(): Promise<void> {
    return this.handle.close();
  }
}
