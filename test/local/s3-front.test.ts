/**
 * The local S3 front before a real s3rver, driven through the AWS SDK v3 as the pipeline drives
 * it: conditional writes, listings past 1,000 keys, and the faults it injects.
 */
import { execFile } from 'node:child_process';
import type { EventEmitter } from 'node:events';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import {
  GetObjectCommand,
  ListObjectsCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  type S3Client,
  type S3ClientConfig,
} from '@aws-sdk/client-s3';
import S3rver from 's3rver';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createS3Client, S3ObjectStore } from '../../lambdas/adapters/s3-store.js';
import { type S3Front, startS3Front, total } from '../../local/s3-front.js';

const BUCKET = 'front-test';
const AWS_CLI = '/usr/bin/aws';

interface SdkError {
  readonly name: string;
  readonly $metadata?: { readonly httpStatusCode?: number };
}

const failureOf = async (work: Promise<unknown>): Promise<SdkError> => {
  try {
    await work;
  } catch (error) {
    return error as SdkError;
  }
  throw new Error('expected the request to fail');
};

/**
 * `count` distinct keys under `prefix` from a fixed seed, built from characters that sort below
 * and above '/' and s3rver's '._S3rver_object' suffix; none that s3rver cannot keep as a file.
 */
function awkwardKeys(count: number, prefix: string): string[] {
  const alphabet = ['a', 'b', '-', '.', ' ', '/', 'A', '0', '!', '_'];
  let state = 20_251_130;
  const draw = (n: number) => {
    state = (Math.imul(state, 1_664_525) + 1_013_904_223) >>> 0;
    return Math.floor((state / 2 ** 32) * n);
  };
  const keys = new Set<string>();
  while (keys.size < count) {
    const name = Array.from({ length: 1 + draw(8) }, () => alphabet[draw(alphabet.length)]).join('');
    const storable = !/^\/|\/$|\/\//.test(name) && !name.split('/').some((s) => s === '.' || s === '..');
    if (storable) keys.add(prefix + name);
  }
  return [...keys];
}

/** Runs `work` on every item, `width` at a time. */
async function inWaves<T>(items: readonly T[], width: number, work: (item: T) => Promise<void>): Promise<void> {
  for (let i = 0; i < items.length; i += width) await Promise.all(items.slice(i, i + width).map(work));
}

describe('S3 front before s3rver', () => {
  let dir: string;
  let s3rver: S3rver;
  let front: S3Front;
  let s3rverPort: number;
  const events: string[] = [];

  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'fusebatch-front-'));
    s3rver = new S3rver({
      port: 0,
      address: '127.0.0.1',
      directory: dir,
      silent: true,
      configureBuckets: [{ name: BUCKET, configs: [] }],
    });
    ({ port: s3rverPort } = await s3rver.run());
    (s3rver as unknown as EventEmitter).on('event', (e: { Records: { s3: { object: { key: string } } }[] }) =>
      events.push(...e.Records.map((r) => r.s3.object.key)),
    );
    front = await startS3Front({ upstream: `http://127.0.0.1:${s3rverPort}`, directory: dir });
  });
  afterAll(async () => {
    await front?.close();
    await s3rver?.close();
    await rm(dir, { recursive: true, force: true });
  });
  beforeEach(() => {
    front.setFaults({});
    front.resetCounters();
  });

  const client = (extra: S3ClientConfig = {}): S3Client =>
    createS3Client({ bucket: BUCKET, endpoint: front.endpoint }, extra);
  const text = (bytes: Uint8Array) => new TextDecoder().decode(bytes);

  describe('conditional writes', () => {
    it('lets exactly one of ten concurrent If-None-Match: * PUTs of a key win, and only it reaches s3rver', async () => {
      // Arrange
      const s3 = client();
      const key = 'claims/one-winner';
      // Act
      const outcomes = await Promise.allSettled(
        Array.from({ length: 10 }, (_, i) =>
          s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: key, Body: `writer ${i}`, IfNoneMatch: '*' })),
        ),
      );
      // Assert
      const winners = outcomes.flatMap((o, i) => (o.status === 'fulfilled' ? [i] : []));
      expect(winners).toHaveLength(1);
      for (const o of outcomes) {
        if (o.status === 'rejected') {
          expect((o.reason as SdkError).name).toBe('PreconditionFailed');
          expect((o.reason as SdkError).$metadata?.httpStatusCode).toBe(412);
        }
      }
      expect(text(await new S3ObjectStore(s3, BUCKET).get(key))).toBe(`writer ${winners[0]}`);
      expect(front.counters.preconditionFailures.PUT).toBe(9);
      // A refused write never reaches s3rver, so it emits no object-created event.
      expect(events.filter((k) => k === key)).toHaveLength(1);
    });

    it('replaces with If-Match on the current ETag, refuses a stale one with 412 and a missing key with 404', async () => {
      // Arrange
      const s3 = client();
      const key = 'claims/compare-and-swap';
      const first = await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: key, Body: 'v1' }));
      // Act
      const second = await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: key, Body: 'v2', IfMatch: first.ETag }));
      const stale = await failureOf(
        s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: key, Body: 'v3', IfMatch: first.ETag })),
      );
      const missing = await failureOf(
        s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: 'claims/absent', Body: 'v', IfMatch: first.ETag })),
      );
      // Assert
      expect(second.ETag).not.toBe(first.ETag);
      expect(stale).toMatchObject({ name: 'PreconditionFailed', $metadata: { httpStatusCode: 412 } });
      // As S3 documents it: If-Match on no object is 404 NoSuchKey, not 412.
      expect(missing).toMatchObject({ name: 'NoSuchKey', $metadata: { httpStatusCode: 404 } });
      expect(text(await new S3ObjectStore(s3, BUCKET).get(key))).toBe('v2');
      expect(await new S3ObjectStore(s3, BUCKET).exists('claims/absent')).toBe(false);
    });

    it('checks conditions with its own HEAD, which faults never hit', async () => {
      // Arrange: every client HEAD is throttled.
      front.setFaults({ slowDown: { rate: 1 }, only: { methods: ['HEAD'] } });
      // Act
      const put = await client().send(
        new PutObjectCommand({ Bucket: BUCKET, Key: 'claims/own-head', Body: 'x', IfNoneMatch: '*' }),
      );
      // Assert
      expect(put.$metadata.httpStatusCode).toBe(200);
      expect(front.counters.slowDowns).toEqual({});
    });
  });

  describe('listings', () => {
    const many = Array.from({ length: 2500 }, (_, i) => `list/many/${String(i).padStart(4, '0')}.jsonl`);
    // Names s3rver walks out of key order: a folder before a file with its name or its name
    // plus '-', '.' or ' ', a folder holding only folders, and such siblings of a big folder.
    const awkward = [
      'list/a',
      'list/a-x',
      'list/a.A',
      'list/a.txt',
      'list/a b',
      'list/a/b',
      'list/a-b/c/d',
      'list/img',
      'list/img-2',
      'list/many',
      'list/many-old/x/y',
      'list/many.bak',
      'list/many/0500.jsonl-retry',
      'list/only/folders/here',
    ];
    // And 1,200 random keys from characters that sort around '/' and s3rver's '.' suffix.
    const random = awkwardKeys(1200, 'rand/');
    const all = [...many, ...awkward].sort();

    beforeAll(async () => {
      // Seeded as s3rver keeps objects, `<key>._S3rver_object` under the bucket's folder (it makes
      // their MD5 and metadata files on first read): its own putObject takes ~2 ms a key.
      await inWaves([...all, ...random], 200, async (key) => {
        const file = path.join(dir, BUCKET, `${key}._S3rver_object`);
        await mkdir(path.dirname(file), { recursive: true });
        await writeFile(file, key);
      });
    });

    it('lists 2,600 keys, 2,500 in one folder, completely and in order through S3ObjectStore.list', async () => {
      // Act
      const listed = await new S3ObjectStore(client(), BUCKET).list('list/');
      // Assert
      expect(listed.map((o) => o.key)).toEqual(all);
      expect(listed.find((o) => o.key === 'list/a/b')).toMatchObject({ size: 'list/a/b'.length });
    });

    it('lists 1,200 random awkward keys in order, whole, by pages of 300 and rolled up by a delimiter', async () => {
      // Arrange
      const s3 = client();
      const expected = [...random].sort();
      const pages = async (delimiter?: string) => {
        const entries: string[][] = [];
        let token: string | undefined;
        do {
          const page = await s3.send(
            new ListObjectsV2Command({
              Bucket: BUCKET,
              Prefix: 'rand/',
              Delimiter: delimiter,
              MaxKeys: delimiter ? 1000 : 300,
              ContinuationToken: token,
            }),
          );
          const prefixes = (page.CommonPrefixes ?? []).map((p) => p.Prefix!);
          entries.push([...(page.Contents ?? []).map((o) => o.Key!), ...prefixes].sort());
          token = page.IsTruncated ? page.NextContinuationToken : undefined;
        } while (token);
        return entries.flat();
      };
      // Act
      const listed = (await new S3ObjectStore(s3, BUCKET).list('rand/')).map((o) => o.key);
      const byPages = await pages();
      const rolledUp = await pages('/');
      // Assert
      expect(listed).toEqual(expected);
      expect(byPages).toEqual(expected);
      expect(rolledUp).toEqual([...new Set(expected.map((k) => k.replace(/^(rand\/[^/]*\/).*$/, '$1')))]);
    });

    it('lists the random keys as completely without s3rver’s folder (one probe listing per character)', async () => {
      // Arrange
      const httpOnly = await startS3Front({ upstream: `http://127.0.0.1:${s3rverPort}` });
      try {
        // Act
        const store = new S3ObjectStore(createS3Client({ bucket: BUCKET, endpoint: httpOnly.endpoint }), BUCKET);
        const listed = await store.list('rand/');
        // Assert
        expect(listed.map((o) => o.key)).toEqual([...random].sort());
      } finally {
        await httpOnly.close();
      }
    });

    it('pages V2 in order, by prefix and delimiter, with KeyCount and continuation tokens', async () => {
      // Arrange
      const s3 = client();
      const pages: { keys: string[]; prefixes: string[]; count?: number }[] = [];
      // Act
      let token: string | undefined;
      do {
        const page = await s3.send(
          new ListObjectsV2Command({
            Bucket: BUCKET,
            Prefix: 'list/',
            Delimiter: '/',
            MaxKeys: 4,
            ContinuationToken: token,
          }),
        );
        pages.push({
          keys: (page.Contents ?? []).map((o) => o.Key!),
          prefixes: (page.CommonPrefixes ?? []).map((p) => p.Prefix!),
          count: page.KeyCount,
        });
        token = page.IsTruncated ? page.NextContinuationToken : undefined;
      } while (token);
      // Assert: S3 counts keys and common prefixes together against MaxKeys.
      const rolledUp = [...new Set(all.map((k) => k.replace(/^(list\/[^/]*\/).*$/, '$1')))];
      expect(pages.flatMap((p) => p.keys)).toEqual(rolledUp.filter((k) => !k.endsWith('/')));
      expect(pages.flatMap((p) => p.prefixes)).toEqual(rolledUp.filter((k) => k.endsWith('/')));
      for (const p of pages) expect(p.count).toBe(p.keys.length + p.prefixes.length);
      expect(pages.slice(0, -1).every((p) => p.count === 4)).toBe(true);
    });

    it('pages V1 with markers, and starts V2 after StartAfter', async () => {
      // Arrange
      const s3 = client();
      // Act
      const v1: string[] = [];
      let marker: string | undefined;
      for (;;) {
        const page = await s3.send(
          new ListObjectsCommand({ Bucket: BUCKET, Prefix: 'list/a', MaxKeys: 3, Marker: marker }),
        );
        v1.push(...(page.Contents ?? []).map((o) => o.Key!));
        if (!page.IsTruncated) break;
        marker = v1.at(-1);
      }
      const after = await s3.send(
        new ListObjectsV2Command({ Bucket: BUCKET, Prefix: 'list/', StartAfter: 'list/many/2497.jsonl' }),
      );
      // Assert
      expect(v1).toEqual(all.filter((k) => k.startsWith('list/a')));
      expect(after.Contents?.map((o) => o.Key)).toEqual(all.slice(all.indexOf('list/many/2497.jsonl') + 1));
      expect(after.StartAfter).toBe('list/many/2497.jsonl');
    });

    it('passes on s3rver’s answer for a bucket it does not have', async () => {
      const error = await failureOf(client().send(new ListObjectsV2Command({ Bucket: 'no-such-bucket' })));
      expect(error).toMatchObject({ name: 'NoSuchBucket', $metadata: { httpStatusCode: 404 } });
    });

    it.skipIf(!existsSync(AWS_CLI))('lists them all, in order, to Debian’s aws s3 ls --recursive', async () => {
      // Act
      const { stdout } = await promisify(execFile)(
        AWS_CLI,
        ['--endpoint-url', front.endpoint, 's3', 'ls', '--recursive', `s3://${BUCKET}/list/`],
        {
          env: {
            PATH: process.env.PATH ?? '',
            HOME: dir,
            AWS_ACCESS_KEY_ID: 'S3RVER',
            AWS_SECRET_ACCESS_KEY: 'S3RVER',
            AWS_DEFAULT_REGION: 'us-east-1',
          },
          maxBuffer: 16 * 1024 * 1024,
        },
      );
      // Assert: each line is "date time size key" (keys here may hold spaces).
      const keys = stdout
        .trim()
        .split('\n')
        .map((line) => line.replace(/^\S+\s+\S+\s+\d+\s/, ''));
      expect(keys).toEqual(all);
    });
  });

  describe('faults', () => {
    const roundTrips = async (store: S3ObjectStore, n: number, prefix: string) => {
      const keys = Array.from({ length: n }, (_, i) => `${prefix}/${i}`);
      const body = (key: string) => Buffer.from(`${key} `.repeat(200));
      await inWaves(keys, 10, async (key) => {
        await store.put(key, body(key));
        expect(Buffer.from(await store.get(key)).equals(body(key))).toBe(true);
      });
    };

    it('a SlowDown storm at rate 0.5: the SDK still completes 100 PUT/GET round trips with the right bytes', async () => {
      // Arrange: a storm of 30 throttled answers (counted, not timed, so that it reaches GETs too).
      const store = new S3ObjectStore(client({ maxAttempts: 8 }), BUCKET);
      front.setFaults({ seed: 7, slowDown: { rate: 0.5, limit: 30 } });
      // Act
      await roundTrips(store, 100, 'storm');
      // Assert
      expect(front.counters.slowDowns.PUT).toBeGreaterThan(0);
      expect(front.counters.slowDowns.GET).toBeGreaterThan(0);
      expect(total(front.counters.requests)).toBe(200 + total(front.counters.slowDowns));
    });

    it('at rate 1.0 the SDK gives up with a SlowDown error', async () => {
      // Arrange
      const store = new S3ObjectStore(client({ maxAttempts: 2 }), BUCKET);
      front.setFaults({ slowDown: { rate: 1 } });
      // Act
      const error = await failureOf(store.put('storm/never', 'x'));
      // Assert
      expect(error).toMatchObject({ name: 'SlowDown', $metadata: { httpStatusCode: 503 } });
      expect(front.counters.slowDowns).toEqual({ PUT: 2 });
    });

    it('resets, before forwarding or after the store answered: the SDK retries and the bytes stay right', async () => {
      // Arrange
      const store = new S3ObjectStore(client({ maxAttempts: 10 }), BUCKET);
      // Act
      front.setFaults({ seed: 3, reset: { rate: 0.3, at: 'request' } });
      await roundTrips(store, 30, 'resets/request');
      const beforeForwarding = { ...front.counters.resets };
      front.resetCounters();
      // A PUT's answer is empty, so a reset there comes once s3rver has written the object.
      front.setFaults({ seed: 3, reset: { rate: 0.3, at: 'response' }, only: { methods: ['PUT'] } });
      await roundTrips(store, 30, 'resets/response');
      // Assert
      expect(total(beforeForwarding)).toBeGreaterThan(0);
      expect(front.counters.resets.PUT).toBeGreaterThan(0);
    });

    it('a reset mid-body of a GET is not retried by the SDK: reading the body fails', async () => {
      // Arrange
      const s3 = client({ maxAttempts: 10 });
      await new S3ObjectStore(s3, BUCKET).put('resets/big', Buffer.alloc(100_000, 1));
      front.setFaults({ reset: { rate: 1, limit: 1, at: 'response' }, only: { methods: ['GET'] } });
      // Act: the SDK's retries end with the response headers; the body streams after them.
      const out = await s3.send(new GetObjectCommand({ Bucket: BUCKET, Key: 'resets/big' }));
      const error = await failureOf(out.Body!.transformToByteArray());
      // Assert
      expect(out.$metadata.attempts).toBe(1);
      expect(error).toMatchObject({ code: 'ECONNRESET' });
    });

    it('S3ObjectStore.get reads an object again when its body breaks off', async () => {
      // Arrange: the next two GETs are reset mid-body.
      const store = new S3ObjectStore(client({ maxAttempts: 3 }), BUCKET);
      await store.put('resets/again', Buffer.alloc(100_000, 7));
      front.setFaults({ reset: { rate: 1, limit: 2, at: 'response' }, only: { methods: ['GET'] } });
      // Act
      const bytes = await store.get('resets/again');
      // Assert
      expect(Buffer.from(bytes).equals(Buffer.alloc(100_000, 7))).toBe(true);
      expect(front.counters.resets.GET).toBeGreaterThanOrEqual(2);
    });

    it('a stalled request times out on the client (requestTimeout with throwOnRequestTimeout) and is retried', async () => {
      // Arrange: the first GET is held until its client gives up.
      const s3 = client({ requestHandler: { requestTimeout: 500, throwOnRequestTimeout: true } });
      await new S3ObjectStore(s3, BUCKET).put('stall/key', 'held');
      front.setFaults({ stall: { rate: 1, limit: 1 }, only: { methods: ['GET'] } });
      const started = performance.now();
      // Act
      const out = await s3.send(new GetObjectCommand({ Bucket: BUCKET, Key: 'stall/key' }));
      // Assert
      expect(await out.Body!.transformToString()).toBe('held');
      expect(out.$metadata.attempts).toBe(2);
      expect(performance.now() - started).toBeGreaterThanOrEqual(500);
      expect(front.counters.stalls).toEqual({ GET: 1 });
      expect(front.counters.requests.GET).toBe(2);
    });

    it('a stall of N ms delays the request and then forwards it', async () => {
      // Arrange
      const store = new S3ObjectStore(client(), BUCKET);
      front.setFaults({ stall: { rate: 1, ms: 300 }, only: { methods: ['PUT'] } });
      const started = performance.now();
      // Act
      await store.put('stall/slow', 'late');
      // Assert
      expect(performance.now() - started).toBeGreaterThanOrEqual(290);
      expect(text(await store.get('stall/slow'))).toBe('late');
    });

    it('aims faults at a method and a key pattern', async () => {
      // Arrange
      const store = new S3ObjectStore(client({ maxAttempts: 1 }), BUCKET);
      await store.put('inbox/aimed.txt', 'a');
      await store.put('outbox/spared.txt', 'b');
      front.setFaults({ slowDown: { rate: 1 }, only: { methods: ['GET'], key: '^inbox/' } });
      // Act
      const aimed = await failureOf(store.get('inbox/aimed.txt'));
      const spared = text(await store.get('outbox/spared.txt'));
      await store.put('inbox/aimed.txt', 'c');
      // Assert
      expect(aimed.name).toBe('SlowDown');
      expect(spared).toBe('b');
      expect(front.counters.slowDowns).toEqual({ GET: 1 });
    });

    it('replays the same faults from the same seed', async () => {
      // Arrange
      const store = new S3ObjectStore(client({ maxAttempts: 1 }), BUCKET);
      await store.put('seeded/key', 'x');
      const pattern = async () => {
        front.setFaults({ seed: 42, slowDown: { rate: 0.5 } });
        const outcomes: boolean[] = [];
        for (let i = 0; i < 20; i++)
          outcomes.push(
            await store.exists('seeded/key').then(
              () => true,
              () => false,
            ),
          );
        return outcomes;
      };
      // Act
      const first = await pattern();
      const second = await pattern();
      // Assert
      expect(first).toEqual(second);
      expect(first).toContain(true);
      expect(first).toContain(false);
    });

    it('refuses fault options that do not parse', () => {
      expect(() => front.setFaults({ slowDown: { rate: 2 } })).toThrow();
      expect(() => front.setFaults({ only: { key: '(' } })).toThrow(/regular expression/);
    });
  });
});
