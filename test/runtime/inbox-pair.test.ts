/**
 * An inbox pair's record is written only while the halves it was made from are current: the
 * interleavings of a caption overwritten while its pair runs, driven step by step over the
 * memory store (S3's conditional writes) with the real reference model.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SharpImageDecoder } from '../../lambdas/adapters/image-codec.js';
import { loadModelBundle } from '../../lambdas/adapters/model-bundle.js';
import { objectMaskStore } from '../../lambdas/adapters/object-mask-store.js';
import { type BucketPipelineDeps, handlePairObject, type PairOutcome } from '../../lambdas/core/bucket-pipeline.js';
import { ByteBudget } from '../../lambdas/core/byte-budget.js';
import { bareEtag } from '../../lambdas/core/inbox.js';
import { classifyKey, pairKeys } from '../../lambdas/core/keys.js';
import type { RuntimeModel } from '../../lambdas/core/pipeline.js';
import type { ObjectStore } from '../../lambdas/core/ports.js';
import { OutputRecordSchema } from '../../lambdas/core/records.js';
import { MemoryStore } from '../helpers/memory-store.js';
import { parityPairs, referenceBundle } from '../helpers/runtime.js';
import { withOverrides } from '../helpers/store-wrappers.js';

describe('Function: handlePairObject, a half replaced while its pair runs', () => {
  let model: RuntimeModel;
  let png: Uint8Array;
  beforeAll(async () => {
    model = await loadModelBundle(referenceBundle, { engine: 'cpu', threads: 1 });
    png = await readFile(path.join(parityPairs, 'parity-00000.png'));
  });
  afterAll(async () => {
    await model?.engine.close();
  });

  const depsOver = (store: ObjectStore): BucketPipelineDeps => ({
    store,
    model,
    images: new SharpImageDecoder(),
    masks: (keyFor) => objectMaskStore(store, keyFor),
    // Mask objects are what a late run could overwrite: these runs write them.
    maskFormat: 'png',
  });
  /** The event of an object-created notification for this key, run to its end. */
  const event = (store: ObjectStore, key: string): Promise<PairOutcome> => {
    const kind = classifyKey(key);
    if (kind.kind !== 'pair-image' && kind.kind !== 'pair-text') throw new Error(`${key} is not a half`);
    return handlePairObject(kind, depsOver(store));
  };
  const recordText = (store: MemoryStore, id: string) =>
    OutputRecordSchema.parse(JSON.parse(store.text(pairKeys.result(id)))).inputs.text;
  /** Every mask object, with its version: `<key> <etag>`. */
  const masksOf = (store: MemoryStore) =>
    [...store.objects]
      .filter(([key]) => key.startsWith('results/pairs/_masks/'))
      .map(([key, { etag }]) => `${key} ${etag}`);
  /** A promise and the function that settles it: a step one run waits at until the test lets it go. */
  const gate = () => {
    let open!: () => void;
    const opened = new Promise<void>((resolve) => {
      open = resolve;
    });
    return { open, opened };
  };

  it('drops the older caption’s record when the caption was replaced before its check (older run last)', async () => {
    // Prepare: the older run reads caption v1; before it goes on, v2 lands and its event runs to the end.
    const store = new MemoryStore();
    const id = 'race/older-last';
    store.seed(pairKeys.image(id, 'png'), png);
    store.seed(pairKeys.text(id), 'a red circle');
    let newer: PairOutcome | undefined;
    let newerMasks: string[] = [];
    const olderStore = withOverrides(store, {
      async read(key) {
        const stream = await store.read(key);
        if (key === pairKeys.text(id) && !newer) {
          store.seed(pairKeys.text(id), 'a blue star');
          newer = await event(store, pairKeys.text(id));
          newerMasks = masksOf(store);
        }
        return stream;
      },
    });
    // Act
    const older = await event(olderStore, pairKeys.text(id));
    // Assess: the older run's masks went beside the newer's, not over the ones its record names.
    expect(newer).toEqual({ outcome: 'processed', id, status: 'ok' });
    expect(older).toMatchObject({ outcome: 'superseded', id });
    expect(recordText(store, id)).toBe('a blue star');
    const record = OutputRecordSchema.parse(JSON.parse(store.text(pairKeys.result(id))));
    const maskKey = record.status === 'ok' ? (record.tasks.mask as { mask: string }).mask : '';
    expect(newerMasks).toContain(`${maskKey} ${store.objects.get(maskKey)?.etag}`);
    expect(masksOf(store)).toHaveLength(2 * newerMasks.length);
  });

  it('drops the older record when the newer one lands between its check and its write (conflict, then a second look)', async () => {
    // Prepare: the older run has passed its check; v2 lands and is written before the older PUT goes.
    const store = new MemoryStore();
    const id = 'race/newer-between';
    store.seed(pairKeys.image(id, 'png'), png);
    store.seed(pairKeys.text(id), 'a red circle');
    let newer: PairOutcome | undefined;
    const olderStore = withOverrides(store, {
      async putIf(key, body, condition, type, metadata) {
        if (key === pairKeys.result(id) && !newer) {
          store.seed(pairKeys.text(id), 'a blue star');
          newer = await event(store, pairKeys.text(id));
        }
        return store.putIf(key, body, condition, type, metadata);
      },
    });
    // Act
    const older = await event(olderStore, pairKeys.text(id));
    // Assess: the older PUT was refused (the newer record had landed), and its second look saw v2.
    expect(newer).toEqual({ outcome: 'processed', id, status: 'ok' });
    expect(older).toMatchObject({ outcome: 'superseded', id });
    expect(store.calls.putIf).toBe(2);
    expect(recordText(store, id)).toBe('a blue star');
  });

  it('replaces the older record when it lands first, though the newer run looked before it landed', async () => {
    // Prepare: the older run waits at its PUT; v2 lands, its run looks (no record yet), checks,
    // and lets the older PUT land just before its own.
    const store = new MemoryStore();
    const id = 'race/older-first';
    store.seed(pairKeys.image(id, 'png'), png);
    store.seed(pairKeys.text(id), 'a red circle');
    const olderAtPut = gate();
    const olderMayPut = gate();
    const olderStore = withOverrides(store, {
      async putIf(key, body, condition, type, metadata) {
        olderAtPut.open();
        await olderMayPut.opened;
        return store.putIf(key, body, condition, type, metadata);
      },
    });
    const olderRun = event(olderStore, pairKeys.text(id));
    await olderAtPut.opened;
    store.seed(pairKeys.text(id), 'a blue star');
    let older: PairOutcome | undefined;
    const newerStore = withOverrides(store, {
      async putIf(key, body, condition, type, metadata) {
        if (!older) {
          olderMayPut.open();
          older = await olderRun;
        }
        return store.putIf(key, body, condition, type, metadata);
      },
    });
    // Act
    const newer = await event(newerStore, pairKeys.text(id));
    // Assess: both wrote (the older while v1 was current); the newer's first PUT met the older record.
    expect(older).toEqual({ outcome: 'processed', id, status: 'ok' });
    expect(newer).toEqual({ outcome: 'processed', id, status: 'ok' });
    expect(store.calls.putIf).toBe(3);
    expect(recordText(store, id)).toBe('a blue star');
  });

  it('writes one record for a duplicate event, and the result names the halves’ versions', async () => {
    // Prepare: two runs of the same versions; the first waits at its PUT until the second has written.
    const store = new MemoryStore();
    const id = 'race/duplicate';
    store.seed(pairKeys.image(id, 'png'), png);
    store.seed(pairKeys.text(id), 'a red circle');
    const firstAtPut = gate();
    const firstMayPut = gate();
    const firstStore = withOverrides(store, {
      async putIf(key, body, condition, type, metadata) {
        firstAtPut.open();
        await firstMayPut.opened;
        return store.putIf(key, body, condition, type, metadata);
      },
    });
    const first = event(firstStore, pairKeys.text(id));
    await firstAtPut.opened;
    // Act
    const second = await event(store, pairKeys.image(id, 'png'));
    firstMayPut.open();
    // Assess: the first PUT (create-only) was refused, its second look passed, and it wrote again.
    expect(second).toEqual({ outcome: 'processed', id, status: 'ok' });
    expect(await first).toEqual({ outcome: 'processed', id, status: 'ok' });
    expect(store.calls.putIf).toBe(3);
    expect(store.text(pairKeys.result(id)).trim().split('\n')).toHaveLength(1);
    const result = await store.read(pairKeys.result(id));
    expect(result.metadata).toEqual({
      'inbox-image-etag': bareEtag(store.objects.get(pairKeys.image(id, 'png'))!.etag),
      'inbox-text-etag': bareEtag(store.objects.get(pairKeys.text(id))!.etag),
    });
  });

  it('drops its run when a half is replaced between the listing and the read, and the new version’s event writes', async () => {
    // Prepare: the caption is replaced just after the run listed it.
    const store = new MemoryStore();
    const id = 'race/after-listing';
    store.seed(pairKeys.image(id, 'png'), png);
    store.seed(pairKeys.text(id), 'a red circle');
    const listedStore = withOverrides(store, {
      async list(prefix) {
        const listing = await store.list(prefix);
        if (prefix.startsWith('inbox/')) store.seed(pairKeys.text(id), 'a blue star');
        return listing;
      },
    });
    // Act
    const stale = await event(listedStore, pairKeys.image(id, 'png'));
    // Assess: nothing written from a listing the read did not match; the new caption's event writes.
    expect(stale).toMatchObject({ outcome: 'superseded', id });
    expect(await store.exists(pairKeys.result(id))).toBe(false);
    expect(await event(store, pairKeys.text(id))).toEqual({ outcome: 'processed', id, status: 'ok' });
    expect(recordText(store, id)).toBe('a blue star');
  });

  it('holds its image’s listed size in the worker’s byte budget while the image is read, and frees it', async () => {
    // Prepare
    const store = new MemoryStore();
    const id = 'budget/pair';
    store.seed(pairKeys.image(id, 'png'), png);
    store.seed(pairKeys.text(id), 'a red circle');
    const inputBytes = new ByteBudget(1_000_000);
    // Act
    const outcome = await handlePairObject(
      { kind: 'pair-text', id, key: pairKeys.text(id) },
      { ...depsOver(store), inputBytes },
    );
    // Assess
    expect(outcome).toEqual({ outcome: 'processed', id, status: 'ok' });
    expect(inputBytes.peak).toBe(png.length);
    expect(inputBytes.inUse).toBe(0);
  });
});
