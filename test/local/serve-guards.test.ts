/**
 * The local server as an outsider meets it: unsigned requests, a web page's requests (an Origin,
 * a CORS preflight, a form upload) and keys with `..` segments are refused before s3rver sees
 * them, and nothing is written outside its data folder; S3 clients with the local credentials
 * (the SDK here, the AWS CLI in test/e2e) keep working.
 */
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import S3rver from 's3rver';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createS3Client, S3ObjectStore } from '../../lambdas/adapters/s3-store.js';
import { type S3Front, startS3Front } from '../../local/s3-front.js';

function raw(endpoint: string, method: string, rawPath: string, headers: Record<string, string> = {}, body = '') {
  return new Promise<{ status: number; body: string }>((resolve, reject) => {
    const url = new URL(endpoint);
    const req = http.request(
      { host: url.hostname, port: url.port, method, path: rawPath, headers, agent: false },
      (res) => {
        let text = '';
        res.on('data', (d) => {
          text += d;
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

describe('Local S3 endpoint: what it refuses', () => {
  let dir: string;
  let server: S3rver;
  let front: S3Front;
  let store: S3ObjectStore;
  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'fusebatch-guards-'));
    server = new S3rver({
      port: 0,
      address: '127.0.0.1',
      directory: path.join(dir, 'data'),
      silent: true,
      configureBuckets: [{ name: 'fusebatch', configs: [] }],
    });
    const { port } = await server.run();
    front = await startS3Front({ upstream: `http://127.0.0.1:${port}` });
    store = new S3ObjectStore(createS3Client({ bucket: 'fusebatch', endpoint: front.endpoint }), 'fusebatch');
  });
  afterAll(async () => {
    await front?.close();
    await server?.close();
    await rm(dir, { recursive: true, force: true });
  });

  const signed = {
    authorization:
      'AWS4-HMAC-SHA256 Credential=S3RVER/20261130/us-east-1/s3/aws4_request, SignedHeaders=host, Signature=00',
  };

  it.each([
    ['an unsigned GET', 'GET', '/fusebatch/x.txt', {}, 403],
    ['an unsigned PUT', 'PUT', '/fusebatch/inbox/x.txt', {}, 403],
    [
      'a request signed with another access key',
      'PUT',
      '/fusebatch/inbox/x.txt',
      {
        authorization:
          'AWS4-HMAC-SHA256 Credential=AKIAOTHER/20261130/us-east-1/s3/aws4_request, SignedHeaders=host, Signature=00',
      },
      403,
    ],
    [
      'a web page’s request (Origin)',
      'PUT',
      '/fusebatch/inbox/x.txt',
      { ...signed, origin: 'http://evil.example' },
      403,
    ],
    ['a CORS preflight', 'OPTIONS', '/fusebatch/inbox/x.txt', { origin: 'http://evil.example' }, 403],
    [
      'a browser form upload',
      'POST',
      '/fusebatch',
      { ...signed, 'content-type': 'multipart/form-data; boundary=x' },
      403,
    ],
    ['a key climbing out of the data folder', 'PUT', '/fusebatch/uploads/../../../../outside.txt', signed, 400],
    ['an encoded .. segment', 'PUT', '/fusebatch/uploads/%2e%2e/%2e%2e/outside.txt', signed, 400],
  ])('refuses %s', async (_what, method, rawPath, headers, status) => {
    const answer = await raw(front.endpoint, method, rawPath, headers as Record<string, string>, 'hello');
    expect(answer.status).toBe(status);
    expect(answer.body).toMatch(/<Code>(AccessDenied|InvalidArgument)<\/Code>/);
  });

  it('writes nothing outside its data folder, and nothing at all for the refused requests', async () => {
    expect(existsSync(path.join(dir, 'outside.txt'))).toBe(false);
    expect(existsSync(path.join(os.tmpdir(), 'outside.txt'))).toBe(false);
    expect(await store.list('')).toEqual([]);
    expect((await readdir(dir)).sort()).toEqual(['data']);
  });

  it('still serves an S3 client signing with the local credentials', async () => {
    await store.put('inbox/ok.txt', 'a red circle');
    expect(new TextDecoder().decode(await store.get('inbox/ok.txt'))).toBe('a red circle');
  });
});
