/**
 * The S3 client's timeouts and retries, against a tiny HTTP server that misbehaves on purpose:
 * a response that never starts fails with a timeout and is retried; 503 SlowDown is retried.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { createS3Client, S3ObjectStore } from '../../lambdas/adapters/s3-store.js';

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

describe('S3 client: timeouts and retries', () => {
  let server: Server | undefined;
  afterEach(async () => {
    const open = server;
    server = undefined;
    if (!open) return;
    open.closeAllConnections();
    await new Promise((resolve) => open.close(resolve));
  });

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
