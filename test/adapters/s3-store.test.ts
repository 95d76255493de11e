/**
 * The S3 client's timeouts and retries, against a tiny HTTP server that misbehaves on purpose:
 * a response that never starts fails with a timeout and is retried; 503 SlowDown is retried.
 * And the store's reading of a 403: a missing key only where a listing of the key says so.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { createS3Client, S3ObjectStore } from '../../lambdas/adapters/s3-store.js';
import { ObjectNotFoundError } from '../../lambdas/core/ports.js';

const BUCKET = 'b';

/** A server whose n-th request (from 0) is answered by `answer`; it records each request's path. */
async function misbehavingServer(answer: (n: number, req: IncomingMessage, res: ServerResponse) => void) {
  const paths: string[] = [];
  const server = createServer((req, res) => {
    paths.push(req.url ?? '');
    answer(paths.length - 1, req, res);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return { server, endpoint, paths };
}

const ok = (res: ServerResponse, body: string) => {
  res.writeHead(200, { 'Content-Type': 'text/plain', 'Content-Length': Buffer.byteLength(body) });
  res.end(body);
};

const slowDown = (res: ServerResponse) => {
  const body =
    '<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message><RequestId>r</RequestId></Error>';
  res.writeHead(503, { 'Content-Type': 'application/xml', 'Content-Length': Buffer.byteLength(body) });
  res.end(body);
};

/** The server a test started, closed after it (every describe below sets it). */
let server: Server | undefined;
afterEach(async () => {
  const open = server;
  server = undefined;
  if (!open) return;
  open.closeAllConnections();
  await new Promise((resolve) => open.close(resolve));
});

describe('S3 client: timeouts and retries', () => {
  it('gives up on a response that never starts after the request timeout, and gets the object on the retry', async () => {
    // Prepare: the first GET is left hanging; the next is answered.
    const timeoutMs = 400;
    const s3 = await misbehavingServer((n, _req, res) => {
      if (n > 0) ok(res, 'hello');
    });
    server = s3.server;
    const store = new S3ObjectStore(
      createS3Client({ bucket: BUCKET, endpoint: s3.endpoint }, { requestHandler: { requestTimeout: timeoutMs } }),
      BUCKET,
    );
    // Act
    const started = performance.now();
    const body = await store.get('jobs/a.txt');
    const elapsed = performance.now() - started;
    // Assess: one timeout, a short back-off, one answered request.
    expect(new TextDecoder().decode(body)).toBe('hello');
    expect(s3.paths).toEqual(['/b/jobs/a.txt?x-id=GetObject', '/b/jobs/a.txt?x-id=GetObject']);
    expect(elapsed).toBeGreaterThanOrEqual(timeoutMs);
    expect(elapsed).toBeLessThan(2 * timeoutMs + 500);
  }, 20_000);

  it('fails with a timeout, instead of waiting, when no attempt is left', async () => {
    // Prepare: nothing is ever answered.
    const timeoutMs = 300;
    const s3 = await misbehavingServer(() => undefined);
    server = s3.server;
    const store = new S3ObjectStore(
      createS3Client(
        { bucket: BUCKET, endpoint: s3.endpoint },
        { maxAttempts: 1, requestHandler: { requestTimeout: timeoutMs } },
      ),
      BUCKET,
    );
    // Act
    const started = performance.now();
    const attempt = store.get('jobs/a.txt');
    // Assess
    await expect(attempt).rejects.toMatchObject({ name: 'TimeoutError' });
    expect(performance.now() - started).toBeLessThan(timeoutMs + 1000);
    expect(s3.paths).toHaveLength(1);
  }, 20_000);

  it("asks the caller to reserve the object's size from the headers, before the body is read", async () => {
    // Prepare: the headers go out at once; the body only once the reservation was asked for.
    let sendBody: () => void = () => {};
    const s3 = await misbehavingServer((_n, _req, res) => {
      res.writeHead(200, { 'Content-Type': 'image/png', 'Content-Length': 10 });
      res.flushHeaders();
      sendBody = () => res.end('0123456789');
    });
    server = s3.server;
    const store = new S3ObjectStore(createS3Client({ bucket: BUCKET, endpoint: s3.endpoint }), BUCKET);
    const reserved: number[] = [];
    // Act
    const body = await store.get('uploads/a.png', {
      reserve: async (bytes) => {
        reserved.push(bytes);
        sendBody();
      },
    });
    // Assess
    expect(reserved).toEqual([10]);
    expect(new TextDecoder().decode(body)).toBe('0123456789');
  }, 20_000);

  it('retries 503 SlowDown until the object comes', async () => {
    // Prepare: throttled twice, then answered.
    const s3 = await misbehavingServer((n, _req, res) => (n < 2 ? slowDown(res) : ok(res, 'at last')));
    server = s3.server;
    const store = new S3ObjectStore(createS3Client({ bucket: BUCKET, endpoint: s3.endpoint }), BUCKET);
    // Act
    const body = await store.get('state/jobs/j/status.json');
    // Assess
    expect(new TextDecoder().decode(body)).toBe('at last');
    expect(s3.paths).toHaveLength(3);
  }, 20_000);

  it('uses standard retries (jittered exponential back-off) and eight attempts by default; a client setting still wins', async () => {
    // Act
    const client = createS3Client({ bucket: BUCKET });
    const tuned = createS3Client({ bucket: BUCKET }, { maxAttempts: 2 });
    // Assess
    expect(await client.config.retryStrategy()).toMatchObject({ mode: 'standard' });
    expect(await client.config.maxAttempts()).toBe(8);
    expect(await tuned.config.maxAttempts()).toBe(2);
    client.destroy();
    tuned.destroy();
  });
});

/**
 * S3 as a role sees it when it may list only some prefixes and S3 does not count a GET or HEAD of
 * a missing key as within them: every missing key is a 403 AccessDenied, as is an existing key the
 * role may not read; a listing is answered only under the listable prefixes. (The local server
 * enforces no IAM, so this is the adapter against S3's answers, over HTTP with the real client.)
 */
async function prefixListingS3(objects: Record<string, string>, options: { readable: string[]; listable: string[] }) {
  const requests: string[] = [];
  const under = (prefixes: string[], key: string) => prefixes.some((p) => key.startsWith(p));
  const reply = (res: ServerResponse, status: number, body: string, method: string) => {
    res.writeHead(status, { 'Content-Type': 'application/xml', 'Content-Length': Buffer.byteLength(body) });
    res.end(method === 'HEAD' ? undefined : body);
  };
  const denied =
    '<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>AccessDenied</Code><Message>Access Denied</Message><RequestId>r</RequestId></Error>';
  const s3 = await misbehavingServer((_n, req, res) => {
    const method = req.method ?? 'GET';
    const url = new URL(req.url ?? '/', 'http://s3.invalid');
    const key = decodeURIComponent(url.pathname.slice(`/${BUCKET}/`.length));
    if (url.searchParams.get('list-type') === '2') {
      const prefix = url.searchParams.get('prefix') ?? '';
      requests.push(`LIST ${prefix} max ${url.searchParams.get('max-keys')}`);
      if (!under(options.listable, prefix)) return reply(res, 403, denied, method);
      const max = Number(url.searchParams.get('max-keys') ?? 1000);
      const keys = Object.keys(objects)
        .filter((k) => k.startsWith(prefix))
        .sort()
        .slice(0, max);
      const contents = keys
        .map((k) => `<Contents><Key>${k}</Key><Size>${objects[k].length}</Size><ETag>"e"</ETag></Contents>`)
        .join('');
      return reply(
        res,
        200,
        `<?xml version="1.0" encoding="UTF-8"?>\n<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Name>${BUCKET}</Name><Prefix>${prefix}</Prefix><KeyCount>${keys.length}</KeyCount><MaxKeys>${max}</MaxKeys><IsTruncated>false</IsTruncated>${contents}</ListBucketResult>`,
        method,
      );
    }
    requests.push(`${method} ${key}`);
    if (!(key in objects) || !under(options.readable, key)) return reply(res, 403, denied, method);
    res.writeHead(200, {
      'Content-Type': 'text/plain',
      'Content-Length': Buffer.byteLength(objects[key]),
      ETag: '"e"',
    });
    res.end(method === 'HEAD' ? undefined : objects[key]);
  });
  return { ...s3, requests };
}

describe('S3 store: a 403 where the key is missing', () => {
  const start = async (objects: Record<string, string>) => {
    const s3 = await prefixListingS3(objects, { readable: ['inbox/', 'state/'], listable: ['inbox/', 'state/'] });
    server = s3.server;
    return { s3, store: new S3ObjectStore(createS3Client({ bucket: BUCKET, endpoint: s3.endpoint }), BUCKET) };
  };

  it('reads a missing key under a listable prefix as missing, after one listing of the key itself', async () => {
    // Prepare: the caption is there, the image is not; a longer key shares the image's name.
    const { s3, store } = await start({ 'inbox/cat.txt': 'a cat', 'inbox/cat.png.bak': 'old' });
    // Act
    const image = await store.get('inbox/cat.png').catch((error: unknown) => error);
    const stream = await store.read('inbox/cat.png').catch((error: unknown) => error);
    // Assess
    expect(image).toBeInstanceOf(ObjectNotFoundError);
    expect(stream).toBeInstanceOf(ObjectNotFoundError);
    expect(await store.exists('inbox/cat.png')).toBe(false);
    expect(await store.exists('inbox/cat.txt')).toBe(true);
    expect(new TextDecoder().decode(await store.get('inbox/cat.txt'))).toBe('a cat');
    expect(s3.requests.filter((r) => r.includes('cat.png'))).toEqual([
      'GET inbox/cat.png',
      'LIST inbox/cat.png max 1',
      'GET inbox/cat.png',
      'LIST inbox/cat.png max 1',
      'HEAD inbox/cat.png',
      'LIST inbox/cat.png max 1',
    ]);
  });

  it('keeps the AccessDenied of a key that is there but refused, and of a key it may not list', async () => {
    // Prepare: results/ is neither readable nor listable; inbox/secret.png is listable, not readable.
    const s3 = await prefixListingS3(
      { 'results/pairs/p.json': '{}', 'inbox/secret.png': 'x' },
      { readable: ['state/'], listable: ['inbox/', 'state/'] },
    );
    server = s3.server;
    const store = new S3ObjectStore(createS3Client({ bucket: BUCKET, endpoint: s3.endpoint }), BUCKET);
    // Act
    const present = store.get('inbox/secret.png').catch((error: unknown) => error);
    const unlistable = store.get('results/pairs/p.json').catch((error: unknown) => error);
    const missingUnlistable = store.get('results/pairs/none.json').catch((error: unknown) => error);
    const headPresent = store.exists('inbox/secret.png').catch((error: unknown) => error);
    // Assess: the 403 stands, never turned into "missing".
    for (const outcome of [await present, await unlistable, await missingUnlistable]) {
      expect(outcome).not.toBeInstanceOf(ObjectNotFoundError);
      expect(outcome).toMatchObject({ name: 'AccessDenied', $metadata: { httpStatusCode: 403 } });
    }
    expect(await headPresent).toMatchObject({ $metadata: { httpStatusCode: 403 } });
  });
});
