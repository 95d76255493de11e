/**
 * A folder of downloaded objects, each kept under its bucket, key and ETag, so that a reader that
 * lists a prefix again downloads only the objects that are new or changed (an object rewritten
 * with other bytes gets another ETag). Writes go to a temporary name and are renamed into place,
 * so concurrent readers and interrupted runs never see half an object.
 *
 * Layout: <dir>/<sha256(bucket)>/<sha256(key)>/<sha256(etag)>. A key's folder holds one version:
 * storing a new one removes the others. Objects deleted from the bucket stay until the folder is
 * deleted (it is only a cache: deleting it at any time is safe).
 */
import { createHash, randomUUID } from 'node:crypto';
import { mkdir, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { StoredObject } from '../../lambdas/core/ports.js';

/** FUSEBATCH_CACHE_DIR, else $XDG_CACHE_HOME/fusebatch, else ~/.cache/fusebatch. */
export function defaultCacheDir(env: NodeJS.ProcessEnv = process.env): string {
  if (env.FUSEBATCH_CACHE_DIR) return env.FUSEBATCH_CACHE_DIR;
  return path.join(env.XDG_CACHE_HOME || path.join(os.homedir(), '.cache'), 'fusebatch');
}

const hash = (text: string) => createHash('sha256').update(text).digest('hex');

export class ObjectCache {
  private readonly root: string;

  /** `bucket` names the bucket and where it is (e.g. `s3://name`, or the endpoint and name). */
  constructor(dir: string, bucket: string) {
    this.root = path.join(dir, hash(bucket));
  }

  private folder(key: string) {
    return path.join(this.root, hash(key));
  }

  /** The cached bytes of this version of the object; null when not cached (or it has no ETag). */
  async get(object: StoredObject): Promise<Uint8Array | null> {
    if (!object.etag) return null;
    try {
      return await readFile(path.join(this.folder(object.key), hash(object.etag)));
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw error;
    }
  }

  /** Keeps this version of the object, in place of any other version of its key. */
  async put(object: StoredObject, body: Uint8Array): Promise<void> {
    if (!object.etag) return;
    const folder = this.folder(object.key);
    const name = hash(object.etag);
    await mkdir(folder, { recursive: true });
    const temporary = path.join(folder, `.${randomUUID()}.tmp`);
    await writeFile(temporary, body);
    await rename(temporary, path.join(folder, name));
    for (const other of await readdir(folder)) {
      if (other !== name && !other.startsWith('.')) await rm(path.join(folder, other), { force: true });
    }
  }
}
