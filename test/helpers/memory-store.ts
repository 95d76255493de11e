/**
 * An object store in memory with S3's semantics where the pipeline relies on them (strongly
 * consistent listing in key order, conditional writes by ETag), counting every call by kind:
 * for unit tests of the protocol and for counting requests. End-to-end tests use the real S3 API
 * (the embedded server).
 */
import { createHash } from 'node:crypto';
import {
  type GetOptions,
  ObjectNotFoundError,
  type ObjectStore,
  type ObjectStream,
  ObjectTooLargeError,
  type StoredObject,
  type WriteCondition,
} from '../../lambdas/core/ports.js';

interface Entry {
  readonly body: Uint8Array;
  readonly etag: string;
  readonly lastModified: Date;
  readonly metadata: Record<string, string>;
}

export type CallKind = 'get' | 'read' | 'put' | 'putIf' | 'exists' | 'list';

export class MemoryStore implements ObjectStore {
  readonly objects = new Map<string, Entry>();
  /** Keys by folder (up to the last `/`), so a listing does not scan every key. */
  private readonly folders = new Map<string, Set<string>>();
  readonly calls: Record<CallKind, number> = { get: 0, read: 0, put: 0, putIf: 0, exists: 0, list: 0 };
  /** Keys returned by every list call, summed (what a listing costs S3). */
  keysListed = 0;
  /** LIST requests S3 would have served: a page holds 1,000 keys. */
  listPages = 0;

  private entry(key: string): Entry {
    const entry = this.objects.get(key);
    if (!entry) throw new ObjectNotFoundError(key);
    return entry;
  }

  private write(key: string, body: Uint8Array | string, metadata: Record<string, string> = {}): string {
    const bytes = typeof body === 'string' ? new TextEncoder().encode(body) : body;
    const etag = `"${createHash('md5').update(bytes).update(String(Math.random())).digest('hex')}"`;
    this.objects.set(key, { body: bytes, etag, lastModified: new Date(), metadata });
    const folder = key.slice(0, key.lastIndexOf('/') + 1);
    if (!this.folders.has(folder)) this.folders.set(folder, new Set());
    this.folders.get(folder)!.add(key);
    return etag;
  }

  /** Writes as a user would, with user metadata; not counted. */
  seed(key: string, body: Uint8Array | string, metadata: Record<string, string> = {}): void {
    this.write(key, body, metadata);
  }

  text(key: string): string {
    return new TextDecoder().decode(this.entry(key).body);
  }

  async get(key: string, options: GetOptions = {}): Promise<Uint8Array> {
    this.calls.get++;
    const { body } = this.entry(key);
    if (options.maxBytes !== undefined && body.length > options.maxBytes) {
      throw new ObjectTooLargeError(key, body.length, options.maxBytes);
    }
    await options.reserve?.(body.length);
    return body;
  }

  async read(key: string): Promise<ObjectStream> {
    this.calls.read++;
    const { body, etag, lastModified, metadata } = this.entry(key);
    // Small pieces, so that readers are tested on bodies split anywhere.
    async function* pieces() {
      for (let i = 0; i < body.length; i += 7) yield body.subarray(i, i + 7);
    }
    return { body: pieces(), etag, lastModified, metadata };
  }

  async put(key: string, body: Uint8Array | string, _type?: string, metadata?: Record<string, string>): Promise<void> {
    this.calls.put++;
    this.write(key, body, metadata);
  }

  async putIf(
    key: string,
    body: Uint8Array | string,
    condition: WriteCondition,
    _type?: string,
    metadata?: Record<string, string>,
  ): Promise<string | null> {
    this.calls.putIf++;
    const current = this.objects.get(key);
    if ('ifNoneMatch' in condition ? current : current?.etag !== condition.ifMatch) return null;
    return this.write(key, body, metadata);
  }

  async exists(key: string): Promise<boolean> {
    this.calls.exists++;
    return this.objects.has(key);
  }

  async list(prefix: string, options: { readonly limit?: number } = {}): Promise<StoredObject[]> {
    this.calls.list++;
    const within = prefix.slice(0, prefix.lastIndexOf('/') + 1);
    const keys = [...this.folders.entries()]
      .filter(([folder]) => folder.startsWith(within))
      .flatMap(([, keys]) => [...keys].filter((key) => key.startsWith(prefix)));
    const out = keys
      .map((key) => [key, this.objects.get(key)!] as const)
      .map(([key, e]) => ({ key, size: e.body.length, lastModified: e.lastModified, etag: e.etag }))
      .sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0))
      .slice(0, options.limit);
    this.keysListed += out.length;
    this.listPages += Math.max(1, Math.ceil(out.length / 1000));
    return out;
  }

  /** Requests made so far, all kinds together. */
  get requests(): number {
    return Object.values(this.calls).reduce((a, b) => a + b, 0);
  }
}
