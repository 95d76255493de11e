/**
 * The local S3 endpoint: a small HTTP server in front of s3rver (which listens on an internal
 * port) that forwards every request, streaming both ways, and adds what the pipeline relies on
 * S3 for and s3rver lacks:
 *  - conditional writes: PutObject, CopyObject and CompleteMultipartUpload with `If-None-Match: *`
 *    or `If-Match`, checked with a HEAD and written under a per-key lock, so that check-then-write
 *    is atomic here as it is in S3;
 *  - ListObjects V1 and V2 in key order past 1,000 keys (s3-front-listing.ts);
 *  - fault injection for tests (s3-front-faults.ts), never applied to the front's own requests.
 * Path-style requests only (the local clients use forcePathStyle).
 */
import { randomBytes } from 'node:crypto';
import { readdir } from 'node:fs/promises';
import http from 'node:http';
import type { Socket } from 'node:net';
import path from 'node:path';
import * as z from 'zod';
import { LOCAL_CREDENTIALS } from './local-settings.js';
import { type FaultDecision, FaultInjector, type FaultOptions } from './s3-front-faults.js';
import {
  escapeXml,
  type ListedObject,
  type ListingSource,
  type ListPage,
  listPage,
  parseListBucketV1,
} from './s3-front-listing.js';

export { type FaultOptions, FaultOptionsSchema } from './s3-front-faults.js';

export interface S3FrontOptions {
  /** s3rver's base URL, e.g. http://127.0.0.1:45678. */
  readonly upstream: string;
  /** Where to listen; 0 (the default) takes any free port. */
  readonly port?: number;
  readonly host?: string;
  readonly faults?: FaultOptions;
  /**
   * s3rver's data folder, when known: long listings then find a folder's look-alike siblings
   * ('a-x/' beside 'a/') with one readdir instead of one listing per character below '/'.
   */
  readonly directory?: string;
}

export type MethodCounts = Record<string, number>;

export interface FrontCounters {
  /** Every client request, faulted or not (the front's own requests to s3rver are not counted). */
  readonly requests: MethodCounts;
  readonly slowDowns: MethodCounts;
  readonly resets: MethodCounts;
  readonly stalls: MethodCounts;
  /** Conditional writes refused: 412, or 404 for `If-Match` on a missing key. */
  readonly preconditionFailures: MethodCounts;
}

export interface S3Front {
  readonly endpoint: string;
  readonly port: number;
  /** Live counts by HTTP method. */
  readonly counters: FrontCounters;
  /** Replaces the faults ({} turns them off); time windows count from this call. */
  setFaults(options: FaultOptions): void;
  resetCounters(): void;
  close(): Promise<void>;
}

/** The sum of a counter over methods. */
export const total = (counts: MethodCounts) => Object.values(counts).reduce((sum, n) => sum + n, 0);

/** s3rver's dummy account, which it names as every object's owner. */
const OWNER = { id: '123456789000', displayName: 'S3rver' };
const XMLNS = 'http://s3.amazonaws.com/doc/2006-03-01/';
const MAX_KEYS = 1000;

/** Bucket subresources: a GET with one of these is not a listing and goes to s3rver as is. */
const BUCKET_SUBRESOURCES = new Set(
  [
    'accelerate acl analytics cors delete encryption intelligent-tiering inventory lifecycle location logging',
    'metrics notification object-lock ownershipControls policy policyStatus publicAccessBlock replication',
    'requestPayment tagging uploads versioning versions website',
  ]
    .join(' ')
    .split(' '),
);
const HOP_BY_HOP = ['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'upgrade', 'te', 'trailer'];

interface S3ErrorReply {
  readonly status: number;
  readonly code: string;
  readonly message: string;
  readonly detail?: Record<string, string>;
}

const errorXml = ({ code, message, detail }: S3ErrorReply, requestId: string) =>
  '<?xml version="1.0" encoding="UTF-8"?>\n<Error>' +
  `<Code>${escapeXml(code)}</Code><Message>${escapeXml(message)}</Message>` +
  Object.entries(detail ?? {})
    .map(([name, value]) => `<${name}>${escapeXml(value)}</${name}>`)
    .join('') +
  `<RequestId>${requestId}</RequestId></Error>`;

const INTERNAL_ERROR: S3ErrorReply = {
  status: 500,
  code: 'InternalError',
  message: 'We encountered an internal error. Please try again.',
};

/** A listing query, as S3 reads it (strings in, checked once here). */
const ListQuerySchema = z.object({
  'list-type': z.literal('2').optional(),
  prefix: z.string().default(''),
  delimiter: z.string().optional(),
  'max-keys': z
    .string()
    .regex(/^\d{1,10}$/, 'max-keys must be an integer between 0 and 2147483647')
    .transform(Number)
    .refine((n) => n <= 2147483647, 'max-keys must be an integer between 0 and 2147483647')
    .optional(),
  'encoding-type': z.literal('url', 'Invalid Encoding Method specified in Request').optional(),
  'fetch-owner': z.enum(['true', 'false']).optional(),
  marker: z.string().optional(),
  'start-after': z.string().optional(),
  'continuation-token': z
    .string()
    .regex(/^[A-Za-z0-9_-]+$/, 'The continuation token provided is incorrect')
    .optional(),
});
type ListQuery = z.output<typeof ListQuerySchema>;

/** Opaque to clients: the last key or common prefix handed out. */
const encodeToken = (after: string) => Buffer.from(after, 'utf8').toString('base64url');
const decodeToken = (token: string) => Buffer.from(token, 'base64url').toString('utf8');

interface Target {
  readonly bucket?: string;
  /** Absent for a request on the bucket (or the service). */
  readonly key?: string;
}

function parseTarget(pathname: string): Target {
  const [, bucket = '', ...rest] = pathname.split('/');
  try {
    if (!bucket) return {};
    const key = rest.join('/');
    return key ? { bucket: decodeURIComponent(bucket), key: decodeURIComponent(key) } : { bucket };
  } catch {
    return {}; // not percent-encoding: s3rver answers it
  }
}

const encodeKeyPath = (key: string) => key.split('/').map(encodeURIComponent).join('/');

/** ETags as S3 compares them: without quotes or a weak marker. */
const bareEtag = (etag: string) =>
  etag
    .trim()
    .replace(/^W\//, '')
    .replace(/^"(.*)"$/, '$1');

/**
 * Why S3 would refuse this conditional write given the key's current ETag (null: no such key),
 * or undefined when it may go ahead.
 */
function conditionRefusal(
  ifNoneMatch: string | undefined,
  ifMatch: string | undefined,
  current: string | null,
  key: string,
): S3ErrorReply | undefined {
  const failed = (condition: string): S3ErrorReply => ({
    status: 412,
    code: 'PreconditionFailed',
    message: 'At least one of the pre-conditions you specified did not hold',
    detail: { Condition: condition },
  });
  if (ifNoneMatch !== undefined) {
    // S3 takes only '*' on a write; an ETag here is not a supported request.
    if (ifNoneMatch.trim() !== '*') {
      return {
        status: 501,
        code: 'NotImplemented',
        message: 'A header you provided implies functionality that is not implemented',
        detail: { Header: 'If-None-Match' },
      };
    }
    if (current !== null) return failed('If-None-Match');
  }
  if (ifMatch !== undefined) {
    // S3 answers a missing key with 404, not 412: there is no ETag to compare.
    if (current === null) {
      return { status: 404, code: 'NoSuchKey', message: 'The specified key does not exist.', detail: { Key: key } };
    }
    const wanted = ifMatch.split(',').map(bareEtag);
    if (!wanted.includes('*') && !wanted.includes(bareEtag(current))) return failed('If-Match');
  }
  return undefined;
}

/**
 * PutObject, CopyObject, CompleteMultipartUpload and DeleteObject: what replaces or removes an
 * object, so what a conditional write must not interleave with. Parts of an upload are not.
 */
const changesObject = (method: string, query: URLSearchParams) =>
  (method === 'PUT' && !query.has('partNumber')) ||
  (method === 'POST' && query.has('uploadId')) ||
  (method === 'DELETE' && !query.has('uploadId'));

/** Runs tasks on one key one after another; other keys are not held up. */
class KeyedLock {
  private readonly tails = new Map<string, Promise<void>>();

  async run<T>(key: string, task: () => Promise<T>): Promise<T> {
    const before = this.tails.get(key) ?? Promise.resolve();
    let release!: () => void;
    const tail = before.then(() => new Promise<void>((resolve) => (release = resolve)));
    this.tails.set(key, tail);
    await before;
    try {
      return await task();
    } finally {
      release();
      if (this.tails.get(key) === tail) this.tails.delete(key);
    }
  }
}

const emptyCounters = (): FrontCounters => ({
  requests: {},
  slowDowns: {},
  resets: {},
  stalls: {},
  preconditionFailures: {},
});
const bump = (counts: MethodCounts, method: string) => {
  counts[method] = (counts[method] ?? 0) + 1;
};

/** An answer from s3rver to relay as it is (e.g. NoSuchBucket to a listing). */
class UpstreamAnswer extends Error {
  constructor(
    readonly status: number,
    readonly headers: http.IncomingHttpHeaders,
    readonly body: Buffer,
  ) {
    super(`s3rver answered ${status}`);
  }
}

/**
 * What the local server refuses before anything reaches s3rver: a web page's request (an Origin
 * header, a CORS preflight, a browser form upload), a request not signed by an S3 client with
 * the local credentials (the Authorization header, or a presigned URL's credential), and a key
 * with a `.` or `..` segment (which s3rver would follow out of its folder). The signature itself
 * is not verified: the secret is public; what this stops is any page the user visits, or a
 * stray unsigned request, driving the pipeline.
 */
export function refusal(req: http.IncomingMessage): S3ErrorReply | null {
  const denied = (message: string): S3ErrorReply => ({ status: 403, code: 'AccessDenied', message });
  if (req.headers.origin !== undefined || req.method === 'OPTIONS') {
    return denied('the local S3 server takes no requests from web pages');
  }
  if (/^multipart\/form-data/i.test(req.headers['content-type'] ?? '')) {
    return denied('the local S3 server takes no form uploads');
  }
  const rawPath = (req.url ?? '/').split('?')[0];
  const segments = rawPath.split('/').map((segment) => {
    try {
      return decodeURIComponent(segment);
    } catch {
      return segment;
    }
  });
  if (segments.some((segment) => segment === '.' || segment === '..')) {
    return { status: 400, code: 'InvalidArgument', message: 'a key must not have a . or .. segment' };
  }
  const signedBy =
    /Credential=([^/,\s]+)\//.exec(req.headers.authorization ?? '')?.[1] ??
    /(?:^|&)X-Amz-Credential=([^%&/]+)(?:%2F|\/)/i.exec((req.url ?? '').split('?')[1] ?? '')?.[1];
  if (signedBy !== LOCAL_CREDENTIALS.accessKeyId) {
    return denied(`requests must be signed with the local credentials (access key ${LOCAL_CREDENTIALS.accessKeyId})`);
  }
  return null;
}

export async function startS3Front(options: S3FrontOptions): Promise<S3Front> {
  const upstream = new URL(options.upstream);
  const { directory } = options;
  const agent = new http.Agent({ keepAlive: true });
  const faults = new FaultInjector(options.faults);
  const counters = emptyCounters();
  const writes = new KeyedLock();
  const sockets = new Set<Socket>();

  /** One request of the front's own to s3rver, its body read whole (never faulted). */
  const ask = (method: string, path: string) =>
    new Promise<{ status: number; headers: http.IncomingHttpHeaders; body: Buffer }>((resolve, reject) => {
      const request = http.request(
        { host: upstream.hostname, port: upstream.port, method, path, agent },
        (response) => {
          const chunks: Buffer[] = [];
          response.on('data', (c: Buffer) => chunks.push(c));
          response.on('end', () =>
            resolve({ status: response.statusCode ?? 0, headers: response.headers, body: Buffer.concat(chunks) }),
          );
          response.on('error', reject);
        },
      );
      request.on('error', reject);
      request.end();
    });

  const head = async (bucket: string, key: string) => {
    const answer = await ask('HEAD', `/${encodeURIComponent(bucket)}/${encodeKeyPath(key)}`);
    if (answer.status === 404) return undefined;
    if (answer.status !== 200) throw new UpstreamAnswer(answer.status, answer.headers, answer.body);
    return answer.headers;
  };

  const listingSource = (bucket: string): ListingSource => ({
    async page(prefix, marker, maxKeys) {
      const query = new URLSearchParams({ prefix, marker, 'max-keys': String(maxKeys) });
      const answer = await ask('GET', `/${encodeURIComponent(bucket)}/?${query}`);
      if (answer.status !== 200) throw new UpstreamAnswer(answer.status, answer.headers, answer.body);
      return parseListBucketV1(answer.body.toString('utf8'));
    },
    async head(key) {
      const headers = await head(bucket, key);
      if (!headers) return undefined;
      return {
        key,
        lastModified: new Date(headers['last-modified'] ?? 0).toISOString(),
        etag: headers.etag ?? '',
        size: Number(headers['content-length'] ?? 0),
        storageClass: 'STANDARD',
      };
    },
    ...(directory ? { siblingPrefixes: (folder) => siblingsOnDisk(path.join(directory, bucket), folder) } : {}),
  });

  const forwardedHeaders = (req: http.IncomingMessage, drop: readonly string[] = []) => {
    const headers: http.OutgoingHttpHeaders = { ...req.headers };
    // Expect: 100-continue was answered here already; hop-by-hop headers are per connection.
    for (const name of [...HOP_BY_HOP, 'expect', ...drop]) delete headers[name];
    return headers;
  };

  /** Sends a whole body, or (a reset at 'response') the headers and half of it before a reset. */
  const reply = (
    req: http.IncomingMessage,
    res: http.ServerResponse,
    status: number,
    headers: http.OutgoingHttpHeaders,
    body: Buffer,
    resetMidway: boolean,
  ) => {
    const withBody = req.method !== 'HEAD' && body.length > 0;
    if (resetMidway && !withBody) {
      req.socket.destroy();
      return;
    }
    res.writeHead(status, { ...headers, 'content-length': withBody ? body.length : 0 });
    if (!resetMidway) {
      res.end(withBody ? body : undefined);
      return;
    }
    res.write(body.subarray(0, body.length >> 1), () => req.socket.destroy());
  };

  const replyError = (req: http.IncomingMessage, res: http.ServerResponse, error: S3ErrorReply) => {
    // A refused upload's body is read and dropped, so that the client can read the answer.
    req.resume();
    const requestId = randomBytes(8).toString('hex').toUpperCase();
    reply(
      req,
      res,
      error.status,
      { 'content-type': 'application/xml', 'x-amz-request-id': requestId },
      Buffer.from(errorXml(error, requestId)),
      false,
    );
  };

  /** Streams the request to s3rver and its answer back; resolves when both sides are done. */
  const forward = (
    req: http.IncomingMessage,
    res: http.ServerResponse,
    headers: http.OutgoingHttpHeaders,
    resetMidway: boolean,
  ) =>
    new Promise<void>((resolve) => {
      let pending = 2;
      const settle = () => {
        if (--pending === 0) resolve();
      };
      const toUpstream = http.request(
        { host: upstream.hostname, port: upstream.port, method: req.method, path: req.url, headers, agent },
        (answer) => {
          const status = answer.statusCode ?? 502;
          const hasBody =
            req.method !== 'HEAD' && status !== 204 && status !== 304 && answer.headers['content-length'] !== '0';
          if (resetMidway && !hasBody) {
            answer.resume();
            answer.once('end', () => req.socket.destroy());
            return;
          }
          res.writeHead(status, answer.statusMessage, answer.headers);
          if (!resetMidway) {
            answer.pipe(res);
            return;
          }
          answer.once('data', (chunk: Buffer) => {
            answer.destroy();
            res.write(chunk.subarray(0, chunk.length >> 1), () => req.socket.destroy());
          });
        },
      );
      toUpstream.once('close', settle);
      toUpstream.on('error', () => {
        if (res.destroyed) return;
        if (!res.headersSent) replyError(req, res, INTERNAL_ERROR);
        else res.destroy();
      });
      // A client that goes mid-exchange takes its upstream request with it.
      res.once('close', () => {
        if (!res.writableFinished) toUpstream.destroy();
        settle();
      });
      req.pipe(toUpstream);
    });

  /** Object writes go one at a time per key, conditional ones checked first. */
  const write = async (
    req: http.IncomingMessage,
    res: http.ServerResponse,
    bucket: string,
    key: string,
    resetMidway: boolean,
  ) => {
    const method = req.method ?? '';
    const ifNoneMatch = req.headers['if-none-match'];
    const ifMatch = req.headers['if-match'];
    if (method === 'DELETE' || (ifNoneMatch === undefined && ifMatch === undefined)) {
      await forward(req, res, forwardedHeaders(req), resetMidway);
      return;
    }
    const current = await head(bucket, key);
    const refusal = conditionRefusal(ifNoneMatch, ifMatch, current ? (current.etag ?? '') : null, key);
    if (refusal) {
      bump(counters.preconditionFailures, method);
      replyError(req, res, refusal);
      return;
    }
    // s3rver would ignore the conditions; they have been checked under the lock.
    await forward(req, res, forwardedHeaders(req, ['if-none-match', 'if-match']), resetMidway);
  };

  const listing = async (
    req: http.IncomingMessage,
    res: http.ServerResponse,
    bucket: string,
    url: URL,
    resetMidway: boolean,
  ) => {
    req.resume();
    const parsed = ListQuerySchema.safeParse(Object.fromEntries(url.searchParams));
    if (!parsed.success) {
      const message = parsed.error.issues[0]?.message ?? 'Invalid argument';
      return replyError(req, res, { status: 400, code: 'InvalidArgument', message });
    }
    const query = parsed.data;
    const v2 = query['list-type'] === '2';
    // The same mix-ups S3 (and s3rver) refuse.
    const misplaced = v2
      ? query.marker !== undefined
        ? 'marker'
        : undefined
      : ['continuation-token', 'start-after'].find((p) => url.searchParams.has(p));
    if (misplaced) {
      return replyError(req, res, {
        status: 400,
        code: 'InvalidArgument',
        message: `${misplaced} is not valid with ${v2 ? 'list-type=2' : 'a version 1 listing'}`,
        detail: { ArgumentName: misplaced },
      });
    }
    const token = query['continuation-token'];
    const after = (v2 ? (token !== undefined ? decodeToken(token) : query['start-after']) : query.marker) ?? '';
    const page = await listPage(listingSource(bucket), {
      prefix: query.prefix,
      delimiter: query.delimiter,
      after,
      maxKeys: Math.min(MAX_KEYS, query['max-keys'] ?? MAX_KEYS),
    });
    const xml = listBucketResultXml(bucket, query, page);
    reply(req, res, 200, { 'content-type': 'application/xml' }, Buffer.from(xml), resetMidway);
  };

  const handle = async (req: http.IncomingMessage, res: http.ServerResponse) => {
    const method = req.method ?? 'GET';
    bump(counters.requests, method);
    const refused = refusal(req);
    if (refused) return replyError(req, res, refused);
    const url = new URL(req.url ?? '/', 'http://front.invalid');
    const { bucket, key } = parseTarget(url.pathname);
    const isListing =
      method === 'GET' &&
      bucket !== undefined &&
      key === undefined &&
      ![...url.searchParams.keys()].some((p) => BUCKET_SUBRESOURCES.has(p));
    const decision: FaultDecision = faults.decide(
      method,
      key ?? (isListing ? (url.searchParams.get('prefix') ?? '') : ''),
    );
    if (decision.stall !== undefined) {
      bump(counters.stalls, method);
      if (!(await held(req, decision.stall))) return;
    }
    if (decision.slowDown) {
      bump(counters.slowDowns, method);
      return replyError(req, res, { status: 503, code: 'SlowDown', message: 'Please reduce your request rate.' });
    }
    if (decision.reset) bump(counters.resets, method);
    if (decision.reset === 'request') {
      req.socket.destroy();
      return;
    }
    const resetMidway = decision.reset === 'response';
    if (bucket !== undefined && key !== undefined && changesObject(method, url.searchParams)) {
      return writes.run(`${bucket}/${key}`, () => write(req, res, bucket, key, resetMidway));
    }
    if (isListing && bucket !== undefined) return listing(req, res, bucket, url, resetMidway);
    return forward(req, res, forwardedHeaders(req), resetMidway);
  };

  const server = http.createServer((req, res) => {
    handle(req, res).catch((error: unknown) => {
      if (res.headersSent) {
        res.destroy();
      } else if (error instanceof UpstreamAnswer) {
        req.resume();
        const contentType = error.headers['content-type'] ?? 'application/xml';
        reply(req, res, error.status, { 'content-type': contentType }, error.body, false);
      } else {
        replyError(req, res, INTERNAL_ERROR);
      }
    });
  });
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, options.host ?? '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { port } = server.address() as { port: number };

  return {
    endpoint: `http://${options.host ?? '127.0.0.1'}:${port}`,
    port,
    counters,
    setFaults: (next) => faults.set(next),
    resetCounters() {
      for (const counts of Object.values(counters) as MethodCounts[]) {
        for (const method of Object.keys(counts)) delete counts[method];
      }
    },
    async close() {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      // Stalled requests and idle keep-alive connections would hold close() open.
      for (const socket of sockets) socket.destroy();
      await closed;
      agent.destroy();
    },
  };
}

/**
 * The names in s3rver's folder beside `folder` that are `folder`'s name plus a character below
 * '/', as key prefixes. s3rver keeps key 'a/b' as file 'a/b._S3rver_object' (beside its
 * metadata files) under the bucket's folder, with keys as paths on POSIX systems.
 */
async function siblingsOnDisk(bucketDir: string, folder: string): Promise<string[]> {
  const cut = folder.lastIndexOf('/') + 1;
  const [parent, name] = [folder.slice(0, cut), folder.slice(cut)];
  let entries: string[];
  try {
    entries = await readdir(path.join(bucketDir, parent));
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw error;
  }
  const found = new Set<string>();
  for (const entry of entries) {
    // Its object, metadata and MD5 files all begin with the key's name and this.
    const at = entry.indexOf('._S3rver_');
    const base = at === -1 ? entry : entry.slice(0, at);
    if (base.length > name.length && base.startsWith(name) && base[name.length] < '/') found.add(parent + base);
  }
  return [...found];
}

/** Holds a request for `stall` ms (or until its client goes); false when the client went first. */
function held(req: http.IncomingMessage, stall: number | 'forever'): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = req.socket;
    if (socket.destroyed) return resolve(false);
    const gone = () => {
      clearTimeout(timer);
      resolve(false);
    };
    const timer =
      stall === 'forever'
        ? undefined
        : setTimeout(() => {
            socket.off('close', gone);
            resolve(true);
          }, stall);
    socket.once('close', gone);
  });
}

function listBucketResultXml(bucket: string, query: ListQuery, page: ListPage): string {
  const encode = query['encoding-type'] === 'url' ? encodeURIComponent : (s: string) => s;
  const v2 = query['list-type'] === '2';
  const text = (name: string, value: string | number | boolean | undefined) =>
    value === undefined ? '' : `<${name}>${escapeXml(String(value))}</${name}>`;
  const withOwner = !v2 || query['fetch-owner'] === 'true';
  const contents = (o: ListedObject) =>
    '<Contents>' +
    text('Key', encode(o.key)) +
    text('LastModified', o.lastModified) +
    text('ETag', o.etag) +
    text('Size', o.size) +
    (withOwner ? `<Owner>${text('ID', OWNER.id)}${text('DisplayName', OWNER.displayName)}</Owner>` : '') +
    text('StorageClass', o.storageClass) +
    '</Contents>';
  const delimiter = query.delimiter || undefined;
  const position = v2
    ? text(
        'StartAfter',
        query['continuation-token'] === undefined ? mapDefined(query['start-after'], encode) : undefined,
      ) +
      text('ContinuationToken', query['continuation-token']) +
      text('NextContinuationToken', page.truncated && page.last !== undefined ? encodeToken(page.last) : undefined) +
      text('KeyCount', page.objects.length + page.commonPrefixes.length)
    : text('Marker', encode(query.marker ?? '')) +
      // S3 gives NextMarker only with a delimiter; without one, the last key is the marker.
      text('NextMarker', delimiter && page.truncated ? mapDefined(page.last, encode) : undefined);
  return (
    '<?xml version="1.0" encoding="UTF-8"?>\n' +
    `<ListBucketResult xmlns="${XMLNS}">` +
    text('Name', bucket) +
    text('Prefix', encode(query.prefix)) +
    position +
    text('MaxKeys', query['max-keys'] ?? MAX_KEYS) +
    text('Delimiter', mapDefined(delimiter, encode)) +
    text('EncodingType', query['encoding-type']) +
    text('IsTruncated', page.truncated) +
    page.objects.map(contents).join('') +
    page.commonPrefixes.map((p) => `<CommonPrefixes>${text('Prefix', encode(p))}</CommonPrefixes>`).join('') +
    '</ListBucketResult>'
  );
}

const mapDefined = <T, U>(value: T | undefined, f: (v: T) => U) => (value === undefined ? undefined : f(value));
