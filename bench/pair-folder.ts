/**
 * A folder of `n` pairs for a bench: hard links to a folder of pairs (an image and its `.txt`
 * each), cycled, under ids `<prefix><n>` padded to `digits`. Returns each id with the source
 * image it links to.
 */
import { link, mkdir, readdir } from 'node:fs/promises';
import path from 'node:path';

export async function cycledPairFolder(
  source: string,
  dir: string,
  n: number,
  { prefix = 'p', digits = 6 }: { readonly prefix?: string; readonly digits?: number } = {},
): Promise<{ readonly id: string; readonly image: string }[]> {
  await mkdir(dir, { recursive: true });
  const images = (await readdir(source)).filter((f) => !f.endsWith('.txt')).sort();
  const out = [];
  for (let i = 0; i < n; i++) {
    const image = images[i % images.length];
    const id = `${prefix}${String(i).padStart(digits, '0')}`;
    await link(path.join(source, image), path.join(dir, `${id}${path.extname(image)}`));
    await link(path.join(source, `${image.slice(0, image.lastIndexOf('.'))}.txt`), path.join(dir, `${id}.txt`));
    out.push({ id, image });
  }
  return out;
}
