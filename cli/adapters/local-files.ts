/**
 * Pairs and masks in a local folder: `<id>.<image ext>` + `<id>.txt`, in subfolders too,
 * where `<id>` is the path without its extension (an image alone for a model that reads no
 * text, a `.txt` alone for one that reads no image). Used by `fusebatch infer` and `submit`.
 */
import { readFile as readFileCallback } from 'node:fs';
import { mkdir, readdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { encodeDensePng } from '../../lambdas/adapters/image-codec.js';
import { PairError } from '../../lambdas/core/errors.js';
import { IMAGE_EXTENSIONS } from '../../lambdas/core/keys.js';
import type { DenseImage } from '../../lambdas/core/kinds/index.js';
import type { PairNeeds } from '../../lambdas/core/manifest.js';
import type { MaskStore, PairSource } from '../../lambdas/core/pipeline.js';

/**
 * fs.readFile, not fs/promises' (a FileHandle, and more hand-offs to libuv's threads): about
 * half the CPU a file, which counts twice a pair (measured 65 µs against 38 µs a small file).
 */
const readFile = promisify(readFileCallback);

async function readHalf(file: string, missing: 'IMAGE_MISSING' | 'TEXT_MISSING'): Promise<Uint8Array> {
  try {
    return await readFile(file);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') {
      throw new PairError(missing, `${missing === 'IMAGE_MISSING' ? 'image' : 'text'} file not found: ${file}`);
    }
    throw error;
  }
}

/**
 * Every id in the folder, sorted, as a pair; a missing or doubled half is that pair's error.
 * Files of a half the model does not read are left out: they neither make ids nor are read.
 */
export async function listFolderPairs(
  dir: string,
  needs: PairNeeds = { image: true, text: true },
): Promise<PairSource[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  const byId = new Map<string, { images: string[]; text?: string }>();
  for (const entry of entries) {
    if (!entry.isFile()) continue;
    const full = path.join(entry.parentPath, entry.name);
    const rel = path.relative(dir, full).split(path.sep).join('/');
    const ext = path.extname(rel).slice(1).toLowerCase();
    const isImage = (IMAGE_EXTENSIONS as readonly string[]).includes(ext);
    if (isImage ? !needs.image : ext !== 'txt' || !needs.text) continue;
    const id = rel.slice(0, rel.length - ext.length - 1);
    const slot = byId.get(id) ?? { images: [] };
    if (isImage) slot.images.push(rel);
    else slot.text = rel;
    byId.set(id, slot);
  }
  return [...byId.keys()].sort().map((id) => {
    const { images, text } = byId.get(id)!;
    const image = images.length === 1 ? images[0] : null;
    return {
      id,
      image: image ?? (images.length ? images.sort().join(',') : null),
      readText: () =>
        text
          ? readHalf(path.join(dir, text), 'TEXT_MISSING')
          : Promise.reject(new PairError('TEXT_MISSING', `no ${id}.txt beside the image`)),
      readImage: () => {
        if (images.length > 1) {
          return Promise.reject(
            new PairError('INPUT_INVALID', `more than one image for id '${id}': ${images.sort().join(', ')}`),
          );
        }
        if (!image) {
          return Promise.reject(
            new PairError('IMAGE_MISSING', `no image for id '${id}' (looked for .${IMAGE_EXTENSIONS.join(', .')})`),
          );
        }
        return readHalf(path.join(dir, image), 'IMAGE_MISSING');
      },
    };
  });
}

/** Masks and other dense outputs as `<dir>/<id>.<task>.png`; records point at that path. */
export class FolderMaskStore implements MaskStore {
  constructor(private readonly dir: string) {}

  /** Folders made so far: one mkdir per folder, not per mask (it showed in profiles). */
  private readonly folders = new Map<string, Promise<unknown>>();
  private folder(dir: string): Promise<unknown> {
    let made = this.folders.get(dir);
    if (!made) {
      made = mkdir(dir, { recursive: true });
      this.folders.set(dir, made);
    }
    return made;
  }

  async save(pairId: string, taskName: string, image: DenseImage): Promise<string> {
    const file = path.join(this.dir, `${pairId}.${taskName}.png`);
    await this.folder(path.dirname(file));
    await writeFile(file, encodeDensePng(image));
    return file.split(path.sep).join('/');
  }
}
