/**
 * The object store on S3 (or any S3-compatible server: the embedded one locally). Retries
 * are the SDK's own, with timeouts and client-side rate limiting set in createS3Client.
 */

import type { Readable } from 'node:stream';
import {
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  NoSuchKey,
  NotFound,
  PutObjectCommand,
  type PutObjectCommandInput,
  S3Client,
  type S3ClientConfig,
} from '@aws-sdk/client-s3';
import {
  type GetOptions,
  ObjectNotFoundError,
  type ObjectStore,
  type ObjectStream,
  ObjectTooLargeError,
  type StoredObject,
  type WriteCondition,
} from '../core/ports.js';

export interface S3Location {
  readonly bucket: string;
  /** A custom endpoint (the embedded server); AWS's when absent. */
  readonly endpoint?: string;
  readonly region?: string;
}

/**
 * Timeouts of every S3 request, in ms. The SDK's defaults are none at all: a connection that
 * never opens, or a response that never starts, would hold a chunk until the Lambda timeout.
 * With these the request fails with a TimeoutError, which the SDK retries like any transient
 * error. The request timeout runs until the response's headers arrive (uploads included),
 * and throws only with throwOnRequestTimeout (otherwise the SDK merely logs a warning); the
 * socket timeout ends a body that stops arriving half-way (not retried by the SDK: the read
 * fails instead of hanging).
 */
export const S3_HTTP_TIMEOUTS = {
  connectionTimeout: 3_000,
  requestTimeout: 30_000,
  throwOnRequestTimeout: true,
  socketTimeout: 30_000,
} as const;

type RequestHandlerInput = NonNullable<S3ClientConfig['requestHandler']>;

/** Options for the SDK's own handler (merged over the timeouts) rather than a handler instance. */
const isHandlerOptions = (h: RequestHandlerInput | undefined): h is Record<string, unknown> =>
  !!h && typeof h === 'object' && typeof (h as { handle?: unknown }).handle !== 'function';

/**
 * @param extra client settings over these; a `requestHandler` given as options is merged over
 * the timeouts (tests shorten them), a handler instance replaces them.
 */
export function createS3Client(location: S3Location, extra: S3ClientConfig = {}): S3Client {
  const { requestHandler, ...rest } = extra;
  return new S3Client({
    region: location.region ?? process.env.AWS_REGION ?? 'us-east-1',
    ...(location.endpoint
      ? {
          endpoint: location.endpoint,
          forcePathStyle: true,
          // The embedded server stores aws-chunked uploads (the SDK's default for streams with
          // checksums) with their framing: send checksums only where an API requires them.
          requestChecksumCalculation: 'WHEN_REQUIRED',
          responseChecksumValidation: 'WHEN_REQUIRED',
          credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' },
        }
      : {}),
    // Many workers writing one job's prefix can get 503 SlowDown. Standard mode retries it with
    // jittered exponential back-off (up to 20 s an attempt), which is what S3 asks for; eight
    // attempts ride out a burst of throttling. Adaptive mode was tried and left: its client-side
    // token bucket keeps the whole client slow long after a storm (100 PUT/GET round trips that
    // met 30 SlowDowns took over 60 s instead of 2), and a chunk's parallel mask writes share it.
    retryMode: 'standard',
    maxAttempts: 8,
    requestHandler:
      requestHandler === undefined || isHandlerOptions(requestHandler)
        ? { ...S3_HTTP_TIMEOUTS, ...requestHandler }
        : requestHandler,
    ...rest,
  });
}

const httpStatusOf = (error: unknown) =>
  (error as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;

/** Reads of an object whose body broke off (the SDK retries only up to the headers). */
const BODY_READ_ATTEMPTS = 4;

export class S3ObjectStore implements ObjectStore {
  constructor(
    private readonly client: S3Client,
    readonly bucket: string,
  ) {}

  async get(key: string, options: GetOptions = {}): Promise<Uint8Array> {
    // The SDK retries until the response's headers arrive; a connection reset while the body
    // streams reaches us, so the read is made again (a few times) like any transient fault.
    for (let attempt = 1; ; attempt++) {
      let body: { transformToByteArray(): Promise<Uint8Array> };
      let size: number;
      try {
        const out = await this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key: key }));
        body = out.Body!;
        size = out.ContentLength ?? 0;
        // Too large: refused from the headers, the body left unread (a worker's memory is bounded).
        if (options.maxBytes !== undefined && (out.ContentLength ?? 0) > options.maxBytes) {
          (out.Body as Readable).destroy();
          throw new ObjectTooLargeError(key, out.ContentLength ?? 0, options.maxBytes);
        }
      } catch (error) {
        throw await this.notFoundOr(error, key);
      }
      await options.reserve?.(size);
      try {
        return await body.transformToByteArray();
      } catch (error) {
        if (attempt >= BODY_READ_ATTEMPTS) throw error;
        await new Promise((resolve) => setTimeout(resolve, 100 * 2 ** attempt));
      }
    }
  }

  async read(key: string): Promise<ObjectStream> {
    try {
      const out = await this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key: key }));
      return {
        body: out.Body as Readable,
        etag: out.ETag ?? '',
        lastModified: out.LastModified,
        metadata: out.Metadata ?? {},
      };
    } catch (error) {
      throw await this.notFoundOr(error, key);
    }
  }

  /** ObjectNotFoundError for a read that failed because the key is missing; else the error itself. */
  private async notFoundOr(error: unknown, key: string): Promise<unknown> {
    if (error instanceof NoSuchKey || (error as { name?: string }).name === 'NoSuchKey') {
      return new ObjectNotFoundError(key);
    }
    if (httpStatusOf(error) === 403 && (await this.listedAsMissing(key))) return new ObjectNotFoundError(key);
    return error;
  }

  /**
   * Whether a listing of the key itself finds it missing; false when the listing is refused too.
   * Why: S3 answers a GET or HEAD of a missing key with 404 only to a caller that may list it,
   * else 403. The roles may list only their own prefixes (an s3:prefix condition, core/access.ts).
   * Ceph RGW judges that condition with the key as the prefix "to match aws behavior"
   * (ceph/ceph#68577, s3-tests' test_head_object_404_with_policy_prefix), which keeps a missing
   * key a role reads a 404; AWS's own documentation does not say so, and no deploy has checked
   * it. Should a 403 come back all the same, this listing, which the condition allows, tells a
   * missing key from a refused one, so that missing halves and documents still read as missing.
   * The key sorts first among the keys it prefixes: one key answers.
   */
  private async listedAsMissing(key: string): Promise<boolean> {
    try {
      const page = await this.client.send(new ListObjectsV2Command({ Bucket: this.bucket, Prefix: key, MaxKeys: 1 }));
      return page.Contents?.[0]?.Key !== key;
    } catch {
      return false;
    }
  }

  async putIf(
    key: string,
    body: Uint8Array | string,
    condition: WriteCondition,
    contentType?: string,
    metadata?: Record<string, string>,
  ): Promise<string | null> {
    const conditions = {
      ...('ifNoneMatch' in condition ? { IfNoneMatch: '*' } : { IfMatch: condition.ifMatch }),
      ...(metadata ? { Metadata: metadata } : {}),
    };
    for (let attempt = 1; ; attempt++) {
      try {
        const out = await this.client.send(this.putCommand(key, body, contentType, conditions));
        return out.ETag ?? '';
      } catch (error) {
        const status = httpStatusOf(error);
        // 412: the condition does not hold. If-Match on a missing key is S3's 404 NoSuchKey.
        if (status === 412 || (status === 404 && 'ifMatch' in condition)) return null;
        // 409: another conditional write of this key was in flight; S3 asks for a retry.
        if (status === 409 && attempt < 5) {
          await new Promise((resolve) => setTimeout(resolve, 50 * 2 ** attempt));
          continue;
        }
        throw error;
      }
    }
  }

  async put(
    key: string,
    body: Uint8Array | string,
    contentType?: string,
    metadata?: Record<string, string>,
  ): Promise<void> {
    await this.client.send(this.putCommand(key, body, contentType, metadata ? { Metadata: metadata } : {}));
  }

  /** A PutObject of these bytes, with its length given (the local server needs it), and any extra fields. */
  private putCommand(
    key: string,
    body: Uint8Array | string,
    contentType: string | undefined,
    extra: Partial<PutObjectCommandInput>,
  ): PutObjectCommand {
    const bytes = typeof body === 'string' ? Buffer.from(body, 'utf8') : body;
    return new PutObjectCommand({
      Bucket: this.bucket,
      Key: key,
      Body: bytes,
      ContentLength: bytes.length,
      ContentType: contentType,
      ...extra,
    });
  }

  async exists(key: string): Promise<boolean> {
    try {
      await this.client.send(new HeadObjectCommand({ Bucket: this.bucket, Key: key }));
      return true;
    } catch (error) {
      if (error instanceof NotFound || httpStatusOf(error) === 404) return false;
      // A 403 may be a missing key the role may not list (listedAsMissing says why).
      if (httpStatusOf(error) === 403 && (await this.listedAsMissing(key))) return false;
      throw error;
    }
  }

  async list(prefix: string, options: { readonly limit?: number } = {}): Promise<StoredObject[]> {
    const { limit } = options;
    const out: StoredObject[] = [];
    let token: string | undefined;
    do {
      const page = await this.client.send(
        new ListObjectsV2Command({
          Bucket: this.bucket,
          Prefix: prefix,
          ContinuationToken: token,
          ...(limit !== undefined ? { MaxKeys: Math.min(1000, limit - out.length) } : {}),
        }),
      );
      for (const o of page.Contents ?? [])
        out.push({ key: o.Key!, size: o.Size ?? 0, lastModified: o.LastModified, etag: o.ETag });
      token = page.IsTruncated && (limit === undefined || out.length < limit) ? page.NextContinuationToken : undefined;
    } while (token);
    return out.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  }
}
