/**
 * The local server's fixed names, apart from the server itself so that the CLI can name them
 * (in its help, in `storeFrom`) without loading s3rver or the AWS SDK.
 */
import os from 'node:os';
import path from 'node:path';

export const LOCAL_BUCKET = 'fusebatch';
export const LOCAL_CREDENTIALS = { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' } as const;

/** Where `demo` and `serve` keep the bucket unless told otherwise. */
export const defaultDemoOut = () => path.join(os.tmpdir(), 'fusebatch-demo');
