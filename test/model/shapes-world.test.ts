/**
 * An independent reading of ../shared/specs/shapes-world.md, checked against the pairs the
 * project's generator wrote into the committed fixtures: geometry, colours, caption
 * grammar, caption truth and every task's ground truth.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import sharp from 'sharp';
import { beforeAll, describe, expect, it } from 'vitest';
import { readTruth, type SceneObject, type Truth } from '../../models/reference/train/onnx-eval.js';

const fixtures = path.resolve(import.meta.dirname, '../../models/reference/fixtures');
const SHAPES = ['circle', 'square', 'triangle', 'diamond', 'star', 'cross'];
const COLORS: Record<string, number[]> = {
  red: [220, 40, 40],
  green: [40, 170, 60],
  blue: [40, 80, 220],
  yellow: [235, 215, 40],
  purple: [140, 60, 190],
  orange: [245, 140, 30],
  cyan: [40, 200, 210],
  pink: [240, 120, 180],
};
const RADII = { small: [8, 13], large: [19, 26] } as const;
const PHRASE = `(a|an) (?:(small|large) )?(${Object.keys(COLORS).join('|')}) (${SHAPES.join('|')})`;
const CAPTION = new RegExp(
  `^(?:there is |an image of |a photo of )?${PHRASE}(?: (left of|right of|above|below) ${PHRASE})?\\.?$`,
);

interface Mention {
  article: string;
  size?: string;
  color: string;
  shape: string;
}

function parseCaption(caption: string): { mentions: Mention[]; relation?: string } {
  const m = CAPTION.exec(caption);
  if (!m) throw new Error(`caption outside the grammar: ${JSON.stringify(caption)}`);
  const mentions = [{ article: m[1], size: m[2], color: m[3], shape: m[4] }];
  if (m[5]) mentions.push({ article: m[6], size: m[7], color: m[8], shape: m[9] });
  return { mentions, relation: m[5] };
}

const matches = (m: Mention, o: SceneObject) =>
  m.shape === o.shape && m.color === o.color && (m.size === undefined || m.size === o.size);

function holds(relation: string, a: SceneObject, b: SceneObject): boolean {
  switch (relation) {
    case 'left of':
      return a.cx <= b.cx - 4;
    case 'right of':
      return a.cx >= b.cx + 4;
    case 'above':
      return a.cy <= b.cy - 4;
    default:
      return a.cy >= b.cy + 4;
  }
}

function captionIsTrue(caption: string, objects: SceneObject[]): boolean {
  const { mentions, relation } = parseCaption(caption);
  const firsts = objects.filter((o) => matches(mentions[0], o));
  if (mentions.length === 1) return firsts.length > 0;
  const seconds = objects.filter((o) => matches(mentions[1], o));
  return firsts.some((a) => seconds.some((b) => a !== b && holds(relation!, a, b)));
}

describe.each(['eval', 'parity'])('Fixture set: %s', (set) => {
  const dir = path.join(fixtures, set);
  let truths: Truth[];
  beforeAll(async () => {
    truths = await readTruth(dir);
  });

  it('has pairs whose scenes follow the geometry of the spec', () => {
    expect(truths.length).toBeGreaterThanOrEqual(32);
    for (const { world } of truths) {
      expect(world.objects.length).toBeGreaterThanOrEqual(1);
      expect(world.objects.length).toBeLessThanOrEqual(3);
      for (const o of world.objects) {
        expect(SHAPES).toContain(o.shape);
        const [lo, hi] = RADII[o.size];
        expect(o.r).toBeGreaterThanOrEqual(lo);
        expect(o.r).toBeLessThanOrEqual(hi);
        for (const v of [o.cx, o.cy]) {
          expect(v - o.r).toBeGreaterThanOrEqual(4 - 1e-9);
          expect(v + o.r).toBeLessThanOrEqual(124 + 1e-9);
        }
        for (const [c, channel] of o.rgb.entries()) {
          expect(Math.abs(channel - COLORS[o.color][c])).toBeLessThanOrEqual(20);
        }
      }
      for (const [i, a] of world.objects.entries()) {
        for (const b of world.objects.slice(i + 1)) {
          const gap = Math.max(Math.abs(a.cx - b.cx) - a.r - b.r, Math.abs(a.cy - b.cy) - a.r - b.r);
          expect(gap).toBeGreaterThanOrEqual(2);
        }
      }
    }
  });

  it('has captions in the grammar, with "an" exactly before a vowel sound', () => {
    for (const { text } of truths) {
      for (const m of parseCaption(text).mentions) {
        const next = m.size ?? m.color;
        expect(m.article, text).toBe(/^[aeiou]/.test(next) ? 'an' : 'a');
      }
    }
  });

  it('has ground truth that an independent reading of the spec agrees with', () => {
    for (const t of truths) {
      const { objects } = t.world;
      const largest = objects.reduce((a, b) => (b.r > a.r ? b : a));
      expect(t.shape).toBe(largest.shape);
      expect([...t.colors].sort()).toEqual([...new Set(objects.map((o) => o.color))].sort());
      expect(t.count).toBe(objects.length);
      expect(t.match, t.text).toBe(Number(captionIsTrue(t.text, objects)));
    }
    const trueShare = truths.filter((t) => t.match === 1).length / truths.length;
    expect(trueShare).toBeGreaterThan(0.3);
    expect(trueShare).toBeLessThan(0.7);
  });

  it('writes images at their stated size, and masks exactly where the first-named shape is', async () => {
    for (const t of truths.slice(0, 40)) {
      const meta = await sharp(path.join(dir, t.image)).metadata();
      expect([meta.width, meta.height]).toEqual([t.width, t.height]);
      if (!t.mask) continue;
      const mask = await sharp(path.join(dir, t.mask)).greyscale().raw().toBuffer({ resolveWithObject: true });
      expect([mask.info.width, mask.info.height]).toEqual([t.width, t.height]);
      const firstShape = parseCaption(t.text).mentions[0].shape;
      const scale = t.width / 128;
      const on = (x: number, y: number) => mask.data[Math.round(y * scale) * t.width + Math.round(x * scale)] > 127;
      for (const o of t.world.objects) {
        // An object's centre is inside every shape; it is masked iff it has the first-named shape.
        expect(on(o.cx, o.cy), `${t.id} ${o.shape}`).toBe(o.shape === firstShape);
      }
      expect(existsSync(path.join(dir, 'pairs', `${t.id}.txt`))).toBe(true);
    }
  });
});
