/**
 * An ObjectStore in memory for tests of the readers (memory-store.ts is the one with S3's
 * conditional writes and request counts by kind, for the pipeline's protocol): counts GETs, tracks how many are in flight
 * at once, gives each object an ETag that changes when it is rewritten, and can hold GETs back
 * for a while (per key) to shuffle the order in which they finish.
 */
import { createHash } from 'node:crypto';
import {
  ObjectNotFoundError,
  type ObjectStore,
  type ObjectStream,
  type StoredObject,
} from '../../lambdas/core/ports.js';

export class ReaderStore implements ObjectStore {
  readonly objects = new Map<string, Uint8Array>();
  /** Keys in the order they were fetched. */
  readonly fetched: string[] = [];
  inFlight = 0;
  maxInFlight = 0;

  constructor(private readonly delayMs: (key: string) => number = () => 0) {}

  get gets(): number {
    return this.fetched.length;
  }

  async get(key: string): Promise<Uint8Array> {
    this.fetched.push(key);
    this.inFlight++;
    this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
    try {
      const delay = this.delayMs(key);
      if (delay) await new Promise((resolve) => setTimeout(resolve, delay));
      const body = this.objects.get(key);
      if (!body) throw new ObjectNotFoundError(key);
      return body;
    } finally {
      this.inFlight--;
    }
  }

  async put(key: string, body: Uint8Array | string): Promise<void> {
    this.objects.set(key, typeof body === 'string' ? new TextEncoder().encode(body) : body);
  }

  async read(key: string): Promise<ObjectStream> {
    const body = await this.get(key);
    return { body: [body], etag: '', metadata: {} } as unknown as ObjectStream;
  }

  async putIf(): Promise<string | null> {
    throw new Error('the readers never write conditionally');
  }

  async exists(key: string): Promise<boolean> {
    return this.objects.has(key);
  }

  async list(prefix: string, options: { readonly limit?: number } = {}): Promise<StoredObject[]> {
    return [...this.objects]
      .filter(([key]) => key.startsWith(prefix))
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .slice(0, options.limit)
      .map(([key, body]) => ({
        key,
        size: body.length,
        // S3's ETag of a simple upload: the MD5 of the bytes, in quotes.
        etag: `"${createHash('md5').update(body).digest('hex')}"`,
      }));
  }
}
