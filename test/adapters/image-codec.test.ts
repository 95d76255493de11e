/**
 * The sharp image codec against real images made here with sharp itself (no mocks, no
 * fixtures): every format it promises, colour handling, EXIF orientation, the three resize
 * modes (and placementFor against where sharp really puts the image), hostile input with
 * its error codes, and mask PNGs.
 */
import sharp, { type Sharp } from 'sharp';
import { describe, expect, it } from 'vitest';
import {
  DEFAULT_IMAGE_LIMITS,
  encodeDensePng,
  encodeMaskPng,
  headerSize,
  SharpImageDecoder,
} from '../../lambdas/adapters/image-codec.js';
import { type ErrorCode, PairError } from '../../lambdas/core/errors.js';
import type { BinaryMask, DenseImage } from '../../lambdas/core/kinds/index.js';
import { type ImageInput, ImageInputSchema } from '../../lambdas/core/manifest.js';
import type { ImageDecoder } from '../../lambdas/core/pipeline.js';
import { placementFor } from '../../lambdas/core/placement.js';

type Rgb = readonly [number, number, number];

const RED: Rgb = [220, 30, 30];
const GREEN: Rgb = [30, 180, 40];
const BLUE: Rgb = [30, 60, 210];
const YELLOW: Rgb = [230, 210, 40];
const WHITE: Rgb = [255, 255, 255];
const PAD: Rgb = [0, 0, 255];

const spec = (over: Partial<Record<keyof ImageInput, unknown>> = {}): ImageInput =>
  ImageInputSchema.parse({
    tensor: 'image',
    width: 8,
    height: 8,
    resize: 'stretch',
    mean: [0, 0, 0],
    std: [1, 1, 1],
    ...over,
  });

/** Raw 8-bit pixels, `channels` values per pixel, from a colour function. */
function pixels(width: number, height: number, colour: (x: number, y: number) => readonly number[], channels = 3) {
  const data = Buffer.alloc(width * height * channels);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) data.set(colour(x, y), (y * width + x) * channels);
  }
  return data;
}

function image(
  width: number,
  height: number,
  colour: (x: number, y: number) => readonly number[],
  channels = 3,
): Sharp {
  return sharp(pixels(width, height, colour, channels), { raw: { width, height, channels: channels as 1 | 3 | 4 } });
}

/** Left half `left`, right half `right`. */
const halves = (width: number, height: number, left: Rgb, right: Rgb) =>
  image(width, height, (x) => (x < width / 2 ? left : right));

/** Top half `top`, bottom half `bottom`. */
const stacked = (width: number, height: number, top: Rgb, bottom: Rgb) =>
  image(width, height, (_x, y) => (y < height / 2 ? top : bottom));

/** Deterministic noise, so that compressed files are large and a cut lands in pixel data. */
function noise(length: number, seed = 1): Buffer {
  const out = Buffer.alloc(length);
  let s = seed;
  for (let i = 0; i < length; i++) {
    s = (Math.imul(s, 1103515245) + 12345) & 0x7fffffff;
    out[i] = s >>> 16;
  }
  return out;
}

const noiseImage = (width: number, height: number) =>
  sharp(noise(width * height * 3), { raw: { width, height, channels: 3 } });

function pixelAt(rgb: Uint8Array, width: number, x: number, y: number): number[] {
  const i = (y * width + x) * 3;
  return [rgb[i], rgb[i + 1], rgb[i + 2]];
}

function expectNear(actual: readonly number[], expected: readonly number[], tolerance: number, where = '') {
  const far = actual.some((v, i) => Math.abs(v - expected[i]) > tolerance);
  expect(far, `${where} ${JSON.stringify(actual)} is not within ${tolerance} of ${JSON.stringify(expected)}`).toBe(
    false,
  );
}

/** Every pixel of a region, as `x,y` keys of the pixels that are not exactly `colour`. */
function offColour(rgb: Uint8Array, width: number, colour: Rgb, xs: [number, number], ys: [number, number]): string[] {
  const off: string[] = [];
  for (let y = ys[0]; y < ys[1]; y++) {
    for (let x = xs[0]; x < xs[1]; x++) {
      const p = pixelAt(rgb, width, x, y);
      if (p[0] !== colour[0] || p[1] !== colour[1] || p[2] !== colour[2]) off.push(`${x},${y}=${p.join('/')}`);
    }
  }
  return off;
}

async function rejection(promise: Promise<unknown>): Promise<PairError> {
  const error = await promise.then(
    () => new Error('expected the decoder to reject, but it resolved'),
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(PairError);
  return error as PairError;
}

// PNG structure: 8-byte signature, then chunks of length(4) type(4) data crc(4); IHDR first.
const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

function ihdr(png: Buffer) {
  expect(png.subarray(0, 8)).toEqual(PNG_SIGNATURE);
  expect(png.toString('latin1', 12, 16)).toBe('IHDR');
  return { width: png.readUInt32BE(16), height: png.readUInt32BE(20), bitDepth: png[24], colourType: png[25] };
}

const CRC_TABLE = Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});

function crc32(bytes: Uint8Array): number {
  let c = 0xffffffff;
  for (const b of bytes) c = CRC_TABLE[(c ^ b) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

/** A copy of a PNG whose IHDR declares another size, with a valid CRC (so only the size is a lie). */
function withDeclaredSize(png: Buffer, width: number, height: number): Buffer {
  const out = Buffer.from(png);
  out.writeUInt32BE(width, 16);
  out.writeUInt32BE(height, 20);
  out.writeUInt32BE(crc32(out.subarray(12, 29)), 29); // type + 13 data bytes
  return out;
}

describe('Adapter: SharpImageDecoder', () => {
  const decoder: ImageDecoder = new SharpImageDecoder();

  describe('formats', () => {
    // A 48x32 image, red left half and blue right half, decoded to 24x16.
    describe.each([
      { name: 'PNG', encode: (s: Sharp) => s.png(), format: 'png', tolerance: 1 },
      { name: 'JPEG', encode: (s: Sharp) => s.jpeg({ quality: 90 }), format: 'jpeg', tolerance: 16 },
      { name: 'WebP (lossy)', encode: (s: Sharp) => s.webp({ quality: 90 }), format: 'webp', tolerance: 16 },
      { name: 'WebP (lossless)', encode: (s: Sharp) => s.webp({ lossless: true }), format: 'webp', tolerance: 1 },
      { name: 'GIF', encode: (s: Sharp) => s.gif(), format: 'gif', tolerance: 8 },
      { name: 'TIFF', encode: (s: Sharp) => s.tiff({ compression: 'lzw' }), format: 'tiff', tolerance: 1 },
      { name: 'AVIF', encode: (s: Sharp) => s.avif({ quality: 80 }), format: 'heif', tolerance: 16 },
    ])('$name', ({ encode, format, tolerance }) => {
      it('returns 8-bit RGB at the spec size and the source size as original when given a file of this format', async () => {
        // Prepare
        const bytes = await encode(halves(48, 32, RED, BLUE)).toBuffer();
        const meta = await sharp(bytes).metadata();
        expect(meta.format).toBe(format); // the bytes really are this format
        if (format === 'heif') expect(meta.compression).toBe('av1');

        // Act
        const { rgb, original } = await decoder.decode(bytes, spec({ width: 24, height: 16 }));

        // Assess
        expect(rgb).toBeInstanceOf(Uint8Array);
        expect(rgb.length).toBe(24 * 16 * 3);
        expect(original).toEqual({ width: 48, height: 32 });
        for (const y of [2, 8, 13]) {
          expectNear(pixelAt(rgb, 24, 3, y), RED, tolerance, `left (3,${y})`);
          expectNear(pixelAt(rgb, 24, 20, y), BLUE, tolerance, `right (20,${y})`);
        }
      });
    });

    describe.each([
      { name: 'GIF', encode: (s: Sharp) => s.gif() },
      { name: 'WebP', encode: (s: Sharp) => s.webp({ lossless: true }) },
    ])('animated $name', ({ encode }) => {
      it('returns the first frame, at the size of one frame, when the animation has differently coloured frames', async () => {
        // Prepare: two 16x12 frames, red then blue
        const frames = pixels(16, 24, (_x, y) => (y < 12 ? RED : BLUE));
        const bytes = await encode(
          sharp(frames, { raw: { width: 16, height: 24, channels: 3, pageHeight: 12 } }),
        ).toBuffer();
        expect((await sharp(bytes).metadata()).pages).toBe(2);
        const second = await sharp(bytes, { page: 1 }).raw().toBuffer();
        expectNear([...second.subarray(0, 3)], BLUE, 8, 'second frame'); // the frames really differ

        // Act
        const { rgb, original } = await decoder.decode(bytes, spec({ width: 16, height: 12 }));

        // Assess
        expect(original).toEqual({ width: 16, height: 12 });
        expect(rgb.length).toBe(16 * 12 * 3);
        for (let i = 0; i < rgb.length; i += 3) expectNear([rgb[i], rgb[i + 1], rgb[i + 2]], RED, 8, `pixel ${i / 3}`);
      });
    });
  });

  describe('colour', () => {
    it('returns three equal channels holding the grey levels when given a greyscale PNG', async () => {
      // Prepare: a 16x4 grey ramp, stored as a one-channel PNG
      const levels = (x: number, y: number) => [(x * 16 + y * 61) % 256];
      const bytes = await image(16, 4, levels, 1).toColourspace('b-w').png().toBuffer();
      expect(ihdr(bytes)).toMatchObject({ bitDepth: 8, colourType: 0 }); // greyscale

      // Act
      const { rgb } = await decoder.decode(bytes, spec({ width: 16, height: 4 }));

      // Assess
      for (let y = 0; y < 4; y++) {
        for (let x = 0; x < 16; x++) {
          const [v] = levels(x, y);
          expect(pixelAt(rgb, 16, x, y), `(${x},${y})`).toEqual([v, v, v]);
        }
      }
    });

    it('returns the 8-bit values of the high bytes when given a 16-bit PNG', async () => {
      // Prepare: low bytes unlike high bytes, so reading the wrong byte shows
      const samples = [0xc810, 0x2890, 0x5a00];
      const raw = new Uint16Array(6 * 4 * 3);
      for (let i = 0; i < 6 * 4; i++) raw.set(samples, i * 3);
      const bytes = await sharp(raw, { raw: { width: 6, height: 4, channels: 3 } })
        .toColourspace('rgb16')
        .png()
        .toBuffer();
      expect(ihdr(bytes)).toMatchObject({ bitDepth: 16, colourType: 2 }); // 16-bit RGB

      // Act
      const { rgb } = await decoder.decode(bytes, spec({ width: 6, height: 4 }));

      // Assess
      for (let i = 0; i < 6 * 4; i++) expectNear([rgb[i * 3], rgb[i * 3 + 1], rgb[i * 3 + 2]], [200, 40, 90], 1);
    });

    describe.each([
      { name: 'without an ICC profile', encode: (s: Sharp) => s.toColourspace('cmyk').jpeg({ quality: 100 }) },
      { name: 'with an embedded CMYK profile', encode: (s: Sharp) => s.withIccProfile('cmyk').jpeg({ quality: 100 }) },
    ])('CMYK JPEG $name', ({ encode }) => {
      it.each([
        { colour: [180, 110, 70] as Rgb },
        { colour: [128, 128, 128] as Rgb },
        { colour: [60, 140, 90] as Rgb },
      ])('returns approximately the sRGB colour $colour when given it as CMYK', async ({ colour }) => {
        // Prepare
        const bytes = await encode(image(8, 8, () => colour)).toBuffer();
        const meta = await sharp(bytes).metadata();
        expect({ space: meta.space, channels: meta.channels }).toEqual({ space: 'cmyk', channels: 4 });

        // Act
        const { rgb } = await decoder.decode(bytes, spec({ width: 8, height: 8 }));

        // Assess: CMYK round trips are lossy; taking C, M, Y as R, G, B would be far off
        expectNear(pixelAt(rgb, 8, 4, 4), colour, 25);
      });
    });

    it.each([
      { background: [0, 0, 255] as Rgb },
      { background: [255, 255, 255] as Rgb },
      { background: [10, 200, 30] as Rgb },
    ])('returns the background $background where an RGBA PNG is transparent', async ({ background }) => {
      // Prepare: left half opaque yellow; right half red at alpha 0 (top) and alpha 128 (bottom)
      const rgba = (x: number, y: number) => (x < 8 ? [...YELLOW, 255] : [255, 0, 0, y < 4 ? 0 : 128]);
      const bytes = await image(16, 8, rgba, 4).png().toBuffer();
      expect(ihdr(bytes).colourType).toBe(6); // RGBA

      // Act
      const { rgb } = await decoder.decode(bytes, spec({ width: 16, height: 8, background }));

      // Assess
      expect(rgb.length).toBe(16 * 8 * 3);
      expect(offColour(rgb, 16, YELLOW, [0, 8], [0, 8])).toEqual([]);
      expect(offColour(rgb, 16, background, [8, 16], [0, 4])).toEqual([]);
      const half = [0, 1, 2].map((c) => 0.5 * [255, 0, 0][c] + 0.5 * background[c]);
      expectNear(pixelAt(rgb, 16, 12, 6), half, 2, 'half transparent');
    });
  });

  describe('EXIF orientation', () => {
    // A 40x20 white JPEG, a red block at the top-left and a green block at the top-right.
    const source = () =>
      image(40, 20, (x, y) => (y >= 6 ? WHITE : x < 6 ? RED : x >= 34 ? GREEN : WHITE)).jpeg({ quality: 95 });

    it.each([
      { orientation: 1, size: { width: 40, height: 20 }, red: 'top-left', green: 'top-right' },
      { orientation: 2, size: { width: 40, height: 20 }, red: 'top-right', green: 'top-left' },
      { orientation: 3, size: { width: 40, height: 20 }, red: 'bottom-right', green: 'bottom-left' },
      { orientation: 4, size: { width: 40, height: 20 }, red: 'bottom-left', green: 'bottom-right' },
      { orientation: 5, size: { width: 20, height: 40 }, red: 'top-left', green: 'bottom-left' },
      { orientation: 6, size: { width: 20, height: 40 }, red: 'top-right', green: 'bottom-right' },
      { orientation: 7, size: { width: 20, height: 40 }, red: 'bottom-right', green: 'top-right' },
      { orientation: 8, size: { width: 20, height: 40 }, red: 'bottom-left', green: 'top-left' },
    ])(
      'returns the upright image, red $red and green $green, when the orientation tag is $orientation',
      async ({ orientation, size, red, green }) => {
        // Prepare
        const bytes = await source().withMetadata({ orientation }).toBuffer();
        const meta = await sharp(bytes).metadata();
        expect({ orientation: meta.orientation, width: meta.width, height: meta.height }).toEqual({
          orientation,
          width: 40,
          height: 20,
        });

        // Act
        const { rgb, original } = await decoder.decode(bytes, spec(size));

        // Assess
        expect(original).toEqual(size);
        const corner = (name: string) => {
          const x = name.endsWith('left') ? 2 : size.width - 3;
          const y = name.startsWith('top') ? 2 : size.height - 3;
          return pixelAt(rgb, size.width, x, y);
        };
        const corners = ['top-left', 'top-right', 'bottom-left', 'bottom-right'];
        for (const name of corners) {
          const expected = name === red ? RED : name === green ? GREEN : WHITE;
          expectNear(corner(name), expected, 40, name);
        }
      },
    );
  });

  describe('resize modes', () => {
    it('returns the whole image squeezed to the spec size when resize is stretch', async () => {
      // Prepare: 60x30, red left and green right, to 20x40 (aspect not kept)
      const bytes = await halves(60, 30, RED, GREEN).png().toBuffer();

      // Act
      const { rgb, original } = await decoder.decode(
        bytes,
        spec({ width: 20, height: 40, resize: 'stretch', resizeKernel: 'nearest', background: PAD }),
      );

      // Assess
      expect(original).toEqual({ width: 60, height: 30 });
      expect(rgb.length).toBe(20 * 40 * 3);
      expect(offColour(rgb, 20, RED, [0, 10], [0, 40])).toEqual([]);
      expect(offColour(rgb, 20, GREEN, [10, 20], [0, 40])).toEqual([]);
    });

    it('returns the image letterboxed on the background colour when resize is contain', async () => {
      // Prepare: 60x30 into 30x30 is 30x15, 7 rows of padding above and 8 below
      const bytes = await halves(60, 30, RED, GREEN).png().toBuffer();

      // Act
      const { rgb } = await decoder.decode(bytes, spec({ width: 30, height: 30, resize: 'contain', background: PAD }));

      // Assess
      expect(offColour(rgb, 30, PAD, [0, 30], [0, 7])).toEqual([]);
      expect(offColour(rgb, 30, PAD, [0, 30], [22, 30])).toEqual([]);
      for (let y = 7; y < 22; y++) {
        expectNear(pixelAt(rgb, 30, 2, y), RED, 2, `row ${y} left`);
        expectNear(pixelAt(rgb, 30, 27, y), GREEN, 2, `row ${y} right`);
      }
    });

    it('returns the centre of the image, the sides cut off, when resize is cover', async () => {
      // Prepare: 80x20 in quarters yellow | red | green | yellow; cover 20x20 keeps columns 30-49
      const quarters = [YELLOW, RED, GREEN, YELLOW];
      const bytes = await image(80, 20, (x) => quarters[Math.floor(x / 20)])
        .png()
        .toBuffer();

      // Act
      const same = await decoder.decode(bytes, spec({ width: 20, height: 20, resize: 'cover', background: PAD }));
      const half = await decoder.decode(
        bytes,
        spec({ width: 10, height: 10, resize: 'cover', resizeKernel: 'nearest', background: PAD }),
      );

      // Assess
      expect(same.original).toEqual({ width: 80, height: 20 });
      expect(offColour(same.rgb, 20, RED, [0, 10], [0, 20])).toEqual([]);
      expect(offColour(same.rgb, 20, GREEN, [10, 20], [0, 20])).toEqual([]);
      expect(offColour(half.rgb, 10, RED, [0, 5], [0, 10])).toEqual([]);
      expect(offColour(half.rgb, 10, GREEN, [5, 10], [0, 10])).toEqual([]);
    });

    /** Where sharp put the image: the box of non-background pixels (contain). */
    function imageBox(rgb: Uint8Array, width: number, height: number) {
      const isPad = (x: number, y: number) => offColour(rgb, width, PAD, [x, x + 1], [y, y + 1]).length === 0;
      const cols = Array.from({ length: width }, (_, x) => x).filter((x) => !isPad(x, Math.floor(height / 2)));
      const rows = Array.from({ length: height }, (_, y) => y).filter((y) => !isPad(Math.floor(width / 2), y));
      return { x0: cols[0], x1: cols[cols.length - 1] + 1, y0: rows[0], y1: rows[rows.length - 1] + 1 };
    }

    /** Where sharp put the source's middle (cover): the first green column, or row. */
    function firstGreen(rgb: Uint8Array, width: number, height: number, axis: 'x' | 'y') {
      const green = (x: number, y: number) => pixelAt(rgb, width, x, y)[1] > 150;
      return axis === 'x'
        ? Array.from({ length: width }, (_, x) => x).find((x) => green(x, Math.floor(height / 2)))
        : Array.from({ length: height }, (_, y) => y).find((y) => green(Math.floor(width / 2), y));
    }

    async function decodeSplit(
      source: { width: number; height: number },
      target: { width: number; height: number },
      mode: 'contain' | 'cover',
    ) {
      const split = source.width >= source.height ? 'x' : 'y';
      const make = split === 'x' ? halves : stacked;
      const bytes = await make(source.width, source.height, RED, GREEN).png().toBuffer();
      const { rgb } = await decoder.decode(
        bytes,
        spec({ ...target, resize: mode, resizeKernel: 'nearest', background: PAD }),
      );
      return { rgb, split } as const;
    }

    const containCases = [
      { source: { width: 60, height: 30 }, target: { width: 30, height: 30 } },
      { source: { width: 60, height: 30 }, target: { width: 40, height: 13 } },
      { source: { width: 30, height: 60 }, target: { width: 30, height: 30 } },
      { source: { width: 60, height: 30 }, target: { width: 64, height: 48 } },
      { source: { width: 60, height: 30 }, target: { width: 45, height: 45 } },
    ];

    it.each(containCases)(
      'returns the image where placementFor says when resize is contain ($source.width x $source.height into $target.width x $target.height)',
      async ({ source, target }) => {
        // Prepare
        const placement = placementFor('contain', source, target);

        // Act
        const { rgb } = await decodeSplit(source, target, 'contain');

        // Assess
        expect(imageBox(rgb, target.width, target.height)).toEqual({
          x0: placement.offsetX,
          x1: placement.offsetX + Math.round(source.width * placement.scaleX),
          y0: placement.offsetY,
          y1: placement.offsetY + Math.round(source.height * placement.scaleY),
        });
      },
    );

    const coverCases = [
      { source: { width: 60, height: 30 }, target: { width: 20, height: 20 } },
      { source: { width: 60, height: 30 }, target: { width: 10, height: 10 } },
      { source: { width: 30, height: 60 }, target: { width: 20, height: 20 } },
      { source: { width: 60, height: 30 }, target: { width: 40, height: 40 } },
      { source: { width: 60, height: 30 }, target: { width: 34, height: 17 } },
    ];

    it.each(coverCases)(
      'returns the image where placementFor says when resize is cover ($source.width x $source.height into $target.width x $target.height)',
      async ({ source, target }) => {
        // Prepare
        const placement = placementFor('cover', source, target);

        // Act
        const { rgb, split } = await decodeSplit(source, target, 'cover');

        // Assess: the source's middle line lands at middle * scale + offset
        const expected =
          split === 'x'
            ? (source.width / 2) * placement.scaleX + placement.offsetX
            : (source.height / 2) * placement.scaleY + placement.offsetY;
        expect(Number.isInteger(expected)).toBe(true);
        expect(firstGreen(rgb, target.width, target.height, split)).toBe(expected);
      },
    );

    // The edge cases: an odd cover excess (sharp crops from ceil(excess / 2), src/common.cc
    // CalculateCrop) and a contain side of exactly x.5 pixels (sharp divides by the shrink
    // factor, which lands just under x.5 and rounds down).
    it.each([
      { mode: 'cover', source: { width: 60, height: 30 }, target: { width: 15, height: 15 } },
      { mode: 'cover', source: { width: 30, height: 60 }, target: { width: 15, height: 15 } },
      { mode: 'cover', source: { width: 60, height: 30 }, target: { width: 11, height: 12 } },
      { mode: 'contain', source: { width: 60, height: 30 }, target: { width: 29, height: 16 } },
    ] as const)(
      'returns the image where placementFor says when resize is $mode ($source.width x $source.height into $target.width x $target.height) [edge case]',
      async ({ mode, source, target }) => {
        // Prepare
        const placement = placementFor(mode, source, target);

        // Act
        const { rgb, split } = await decodeSplit(source, target, mode);

        // Assess
        if (mode === 'contain') {
          expect(imageBox(rgb, target.width, target.height)).toEqual({
            x0: placement.offsetX,
            x1: placement.offsetX + Math.round(source.width * placement.scaleX),
            y0: placement.offsetY,
            y1: placement.offsetY + Math.round(source.height * placement.scaleY),
          });
        } else {
          const expected =
            split === 'x'
              ? Math.round((source.width / 2) * placement.scaleX + placement.offsetX)
              : Math.round((source.height / 2) * placement.scaleY + placement.offsetY);
          expect(firstGreen(rgb, target.width, target.height, split)).toBe(expected);
        }
      },
    );
  });

  describe('hostile input', () => {
    it('throws IMAGE_EMPTY when the file has no bytes', async () => {
      // Prepare
      const bytes = new Uint8Array(0);

      // Act
      const error = await rejection(decoder.decode(bytes, spec()));

      // Assess
      expect(error.code).toBe<ErrorCode>('IMAGE_EMPTY');
    });

    it('throws IMAGE_TOO_MANY_BYTES when the file is one byte over maxBytes, and decodes it at exactly maxBytes', async () => {
      // Prepare
      const bytes = await noiseImage(32, 32).png().toBuffer();
      const over = new SharpImageDecoder({ maxBytes: bytes.length - 1, maxPixels: 1_000_000 });
      const at = new SharpImageDecoder({ maxBytes: bytes.length, maxPixels: 1_000_000 });

      // Act
      const error = await rejection(over.decode(bytes, spec()));
      const ok = await at.decode(bytes, spec());

      // Assess
      expect(error.code).toBe<ErrorCode>('IMAGE_TOO_MANY_BYTES');
      expect(ok.original).toEqual({ width: 32, height: 32 });
    });

    it('throws IMAGE_TOO_MANY_PIXELS when the image is one pixel over maxPixels, and decodes it at exactly maxPixels', async () => {
      // Prepare
      const bytes = await noiseImage(64, 48).png().toBuffer();
      const over = new SharpImageDecoder({ maxBytes: 1_000_000, maxPixels: 64 * 48 - 1 });
      const at = new SharpImageDecoder({ maxBytes: 1_000_000, maxPixels: 64 * 48 });

      // Act
      const error = await rejection(over.decode(bytes, spec()));
      const ok = await at.decode(bytes, spec());

      // Assess
      expect(error.code).toBe<ErrorCode>('IMAGE_TOO_MANY_PIXELS');
      expect(ok.original).toEqual({ width: 64, height: 48 });
    });

    it('throws IMAGE_TOO_MANY_PIXELS quickly, without allocating the image, when a small PNG declares 100000x100000', async () => {
      // Prepare: a valid 8x8 PNG whose IHDR claims 10^10 pixels (30 GB of RGB)
      const bomb = withDeclaredSize(await noiseImage(8, 8).png().toBuffer(), 100_000, 100_000);
      expect(bomb.length).toBeLessThan(1024);
      const declared = await sharp(bomb, { limitInputPixels: false }).metadata(); // the patched header is valid
      expect({ width: declared.width, height: declared.height }).toEqual({ width: 100_000, height: 100_000 });
      expect(100_000 * 100_000).toBeGreaterThan(DEFAULT_IMAGE_LIMITS.maxPixels);
      const rssBefore = process.memoryUsage().rss;
      const started = performance.now();

      // Act
      const error = await rejection(new SharpImageDecoder().decode(bomb, spec({ width: 224, height: 224 })));

      // Assess
      expect(error.code).toBe<ErrorCode>('IMAGE_TOO_MANY_PIXELS');
      expect(performance.now() - started).toBeLessThan(2000);
      expect(process.memoryUsage().rss - rssBefore).toBeLessThan(256 * 1024 * 1024);
    });

    it.each([
      { name: 'PNG', encode: (s: Sharp) => s.png() },
      { name: 'JPEG', encode: (s: Sharp) => s.jpeg() },
      { name: 'WebP', encode: (s: Sharp) => s.webp() },
      { name: 'GIF', encode: (s: Sharp) => s.gif() },
    ])('throws IMAGE_TRUNCATED when a $name file is cut in half', async ({ encode }) => {
      // Prepare
      const whole = await encode(noiseImage(64, 48)).toBuffer();
      await expect(decoder.decode(whole, spec())).resolves.toMatchObject({ original: { width: 64, height: 48 } });
      const bytes = whole.subarray(0, Math.floor(whole.length / 2));

      // Act
      const error = await rejection(decoder.decode(bytes, spec()));

      // Assess
      expect(error.code).toBe<ErrorCode>('IMAGE_TRUNCATED');
      expect(error.cause).toBeInstanceOf(Error);
    });

    it.each([
      { name: 'random bytes', bytes: () => noise(4096, 7) },
      {
        name: 'a text file',
        bytes: () => Buffer.from('pair_id,caption\n1,a red circle left of a blue square\n'.repeat(20)),
      },
      { name: 'a JSON document', bytes: () => Buffer.from(JSON.stringify({ image: 'cat.png', width: 10 })) },
    ])('throws IMAGE_UNREADABLE when given $name', async ({ bytes }) => {
      // Prepare
      const input = bytes();

      // Act
      const error = await rejection(decoder.decode(input, spec()));

      // Assess
      expect(error.code).toBe<ErrorCode>('IMAGE_UNREADABLE');
      expect(error.cause).toBeInstanceOf(Error);
    });
    it('throws IMAGE_UNREADABLE for an SVG, which sharp could render but the runtime does not accept', async () => {
      // Prepare
      const svg = Buffer.from(
        '<svg xmlns="http://www.w3.org/2000/svg" width="16" height="16"><rect width="16" height="16" fill="red"/></svg>',
      );

      // Act
      const error = await rejection(decoder.decode(svg, spec()));

      // Assess
      expect(error.code).toBe<ErrorCode>('IMAGE_UNREADABLE');
      expect(error.message).toContain("images in format 'svg' are not accepted");
    });
  });
});

describe('Function: headerSize', () => {
  // 37x23: odd sizes, so that a width read as a height (or off by one) shows.
  const rgb = () => noiseImage(37, 23);
  const rgba = () => image(37, 23, (x, y) => [x * 6, y * 10, 90, x > 9 ? 255 : 40], 4);

  it.each([
    { name: 'an RGB PNG', bytes: () => rgb().png().toBuffer() },
    { name: 'a palette PNG', bytes: () => rgb().png({ palette: true }).toBuffer() },
    { name: 'a 16-bit grey PNG', bytes: () => rgb().greyscale().toColourspace('grey16').png().toBuffer() },
    { name: 'an RGBA PNG', bytes: () => rgba().png().toBuffer() },
    { name: 'a baseline JPEG', bytes: () => rgb().jpeg().toBuffer() },
    { name: 'a progressive JPEG', bytes: () => rgb().jpeg({ progressive: true }).toBuffer() },
    { name: 'a JPEG with an ICC profile', bytes: () => rgb().jpeg().withIccProfile('p3').toBuffer() },
    { name: 'a lossy WebP', bytes: () => rgb().webp().toBuffer() },
    { name: 'a lossless WebP', bytes: () => rgb().webp({ lossless: true }).toBuffer() },
    { name: 'a WebP with alpha (VP8X)', bytes: () => rgba().webp().toBuffer() },
  ])('reads the format and size libvips reads when given $name', async ({ bytes }) => {
    // Prepare
    const file = await bytes();
    const meta = await sharp(file).metadata();

    // Act
    const header = headerSize(file);

    // Assess
    expect(header).toEqual({ format: meta.format, width: 37, height: 23 });
  });

  it.each([
    { name: 'a JPEG with an EXIF orientation', bytes: () => rgb().jpeg().withMetadata({ orientation: 6 }).toBuffer() },
    { name: 'a PNG with an EXIF orientation', bytes: () => rgb().png().withMetadata({ orientation: 6 }).toBuffer() },
    { name: 'a WebP with an EXIF orientation', bytes: () => rgb().webp().withMetadata({ orientation: 6 }).toBuffer() },
    {
      name: 'an animated WebP',
      bytes: () =>
        sharp(
          pixels(37, 46, (_x, y) => (y < 23 ? RED : BLUE)),
          {
            raw: { width: 37, height: 46, channels: 3, pageHeight: 23 },
          },
        )
          .webp()
          .toBuffer(),
    },
    { name: 'a GIF', bytes: () => rgb().gif().toBuffer() },
    { name: 'a TIFF', bytes: () => rgb().tiff().toBuffer() },
    {
      name: 'an SVG',
      bytes: async () => Buffer.from('<svg xmlns="http://www.w3.org/2000/svg" width="4" height="4"/>'),
    },
    { name: 'a PNG cut inside its header', bytes: async () => (await rgb().png().toBuffer()).subarray(0, 20) },
    { name: 'random bytes', bytes: async () => noise(512, 3) },
  ])('leaves $name to libvips (null)', async ({ bytes }) => {
    expect(headerSize(await bytes())).toBeNull();
  });
});

describe('Function: encodeMaskPng', () => {
  const mask = (width: number, height: number, on: (x: number, y: number) => boolean): BinaryMask => ({
    width,
    height,
    data: Uint8Array.from({ length: width * height }, (_, i) => (on(i % width, Math.floor(i / width)) ? 255 : 0)),
  });

  it.each([
    { name: 'a pattern', mask: mask(7, 5, (x, y) => (x * y + x) % 3 === 0) },
    { name: 'an empty mask', mask: mask(4, 9, () => false) },
    { name: 'a full mask', mask: mask(9, 4, () => true) },
    { name: 'a one-pixel mask', mask: mask(1, 1, () => true) },
    { name: 'rows that end mid-byte', mask: mask(17, 3, (x, y) => x === 16 || x === y) },
  ])('returns a 1-bit greyscale PNG holding the same pixels when given $name', async ({ mask }) => {
    // Prepare
    const expected = Buffer.from(mask.data);

    // Act
    const png = Buffer.from(encodeMaskPng(mask));

    // Assess
    expect(ihdr(png)).toEqual({ width: mask.width, height: mask.height, bitDepth: 1, colourType: 0 });
    const meta = await sharp(png).metadata();
    expect({ format: meta.format, channels: meta.channels, depth: meta.depth }).toEqual({
      format: 'png',
      channels: 1,
      depth: 'uchar',
    });
    // sharp hands out greyscale as sRGB; the one grey channel is channel 0
    const { data, info } = await sharp(png).extractChannel(0).raw().toBuffer({ resolveWithObject: true });
    expect({ width: info.width, height: info.height, channels: info.channels }).toEqual({
      width: mask.width,
      height: mask.height,
      channels: 1,
    });
    expect(data.equals(expected)).toBe(true);
  });
});

describe('Function: encodeDensePng', () => {
  it('writes any non-zero mask byte as in', async () => {
    // Prepare
    const mask: DenseImage = {
      kind: 'mask',
      width: 10,
      height: 1,
      data: Uint8Array.from([0, 1, 127, 128, 255, 0, 0, 3, 0, 9]),
    };

    // Act
    const png = Buffer.from(encodeDensePng(mask));

    // Assess
    const data = await sharp(png).extractChannel(0).raw().toBuffer();
    expect([...data]).toEqual([0, 255, 255, 255, 255, 0, 0, 255, 0, 255]);
  });

  it('returns an 8-bit palette PNG whose indices and colours libvips reads back when given a class map', async () => {
    // Prepare
    const palette = [
      [0, 0, 0],
      [200, 10, 20],
      [5, 250, 6],
    ] as const;
    const data = Uint8Array.from({ length: 13 * 7 }, (_, i) => (i * 7 + (i >> 3)) % 3);
    const image: DenseImage = { kind: 'classes', width: 13, height: 7, data, palette };

    // Act
    const png = Buffer.from(encodeDensePng(image));

    // Assess
    expect(ihdr(png)).toEqual({ width: 13, height: 7, bitDepth: 8, colourType: 3 });
    const rgb = await sharp(png).removeAlpha().raw().toBuffer();
    expect([...rgb]).toEqual([...data].flatMap((c) => palette[c]));
  });

  it('returns a 16-bit greyscale PNG holding the same values when given a value map', async () => {
    // Prepare
    const data = Uint16Array.from({ length: 9 * 5 }, (_, i) => (i * 4099) % 65536);
    const image: DenseImage = { kind: 'values', width: 9, height: 5, data };

    // Act
    const png = Buffer.from(encodeDensePng(image));

    // Assess
    expect(ihdr(png)).toEqual({ width: 9, height: 5, bitDepth: 16, colourType: 0 });
    const raw = await sharp(png).toColourspace('grey16').raw({ depth: 'ushort' }).toBuffer();
    expect([...new Uint16Array(raw.buffer, raw.byteOffset, raw.length / 2)]).toEqual([...data]);
  });
});
