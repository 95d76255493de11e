/**
 * Single pairs in inbox/: which objects are one id's halves, the versions (ETags) a run read,
 * and the write of results/pairs/<id>.json that lands only while those versions are current.
 */
import { createHash } from 'node:crypto';
import { classifyKey, PREFIXES, pairKeys } from './keys.js';
import type { PairNeeds } from './manifest.js';
import type { ObjectStore, StoredObject } from './ports.js';
import type { ModelIdentity } from './records.js';

/** One half of a pair as a listing showed it, or as a run read it: its key and version. */
export interface HalfVersion {
  readonly key: string;
  readonly etag: string;
}

/** An id's halves in a listing of `inbox/<id>.`, by kind (more than one of a kind is the pair's error). */
export interface InboxHalves {
  readonly images: readonly StoredObject[];
  readonly texts: readonly StoredObject[];
}

/**
 * The halves of `id` in a listing of `inbox/<id>.`: only keys whose id is exactly `id`
 * (`inbox/cat.x.png` is id `cat.x`, not a half of `cat`).
 */
export function halvesOf(listing: readonly StoredObject[], id: string): InboxHalves {
  const of = (kind: 'pair-image' | 'pair-text') =>
    listing.filter((object) => {
      const k = classifyKey(object.key);
      return k.kind === kind && k.id === id;
    });
  return { images: of('pair-image'), texts: of('pair-text') };
}

/** S3 quotes ETags in headers and listings alike; compared and stored bare. */
export const bareEtag = (etag: string) => etag.replace(/^W\//, '').replace(/^"(.*)"$/, '$1');

const sameVersions = (a: readonly HalfVersion[], b: readonly HalfVersion[]) => {
  const line = (h: HalfVersion) => `${h.key}\n${bareEtag(h.etag)}`;
  const left = a.map(line).sort();
  const right = b.map(line).sort();
  return left.length === right.length && left.every((l, i) => l === right[i]);
};

/**
 * A name for one run's outputs: the halves' versions and the model, hashed. A pair's masks are
 * written under it (results/pairs/_masks/<id>.<version>.<task>.png) before its record is, so a
 * run that is then superseded leaves its masks beside the newer ones, never over them; the
 * record that lands names the masks of its own run. Two runs of the same versions and model
 * write the same masks to the same keys.
 */
export function outputsVersion(read: readonly HalfVersion[], model: ModelIdentity): string {
  const lines = read.map((h) => `${h.key}\n${bareEtag(h.etag)}`).sort();
  return createHash('sha256')
    .update(JSON.stringify([lines, model.name, model.version, model.sha256]))
    .digest('hex')
    .slice(0, 16);
}

/** The halves' versions as the result's user metadata (`x-amz-meta-inbox-image-etag`, ...). */
export function halvesMetadata(read: readonly HalfVersion[]): Record<string, string> {
  const etags = (kind: 'pair-image' | 'pair-text') =>
    read
      .filter((h) => classifyKey(h.key).kind === kind)
      .map((h) => bareEtag(h.etag))
      .join(',');
  const image = etags('pair-image');
  const text = etags('pair-text');
  return { ...(image ? { 'inbox-image-etag': image } : {}), ...(text ? { 'inbox-text-etag': text } : {}) };
}

/** Conflicting writes of one result, each answered by another look, before the event is failed (and retried). */
const WRITE_ATTEMPTS = 5;

export type ResultWrite = { readonly written: true } | { readonly written: false; readonly reason: string };

/**
 * Writes a pair's record only while the halves it was made from are still the current ones.
 *
 * Why this is enough: every write is a conditional PUT against the result's version observed
 * *before* the halves were checked, so a write lands only if no other write came between that
 * look and it. Take the write that lands last, by a run that read versions R. Had a newer
 * version been uploaded before its check, the check (a strongly consistent LIST) would have
 * seen it and the run would have dropped its record. So any newer version came after the
 * check; its own event's run lists it, and writes (or is superseded by a newer one still,
 * whose run writes) after that check too. Had that write landed before ours, it would lie
 * between our look and our write, and our PUT would have failed. So it lands after ours,
 * and ours was not the last: the last record is made from the newest halves.
 * - Two runs of different versions, the older finishing first: its write lands, the newer
 *   one's PUT fails against it or observes it, and replaces it. The older finishing last: its
 *   check sees the newer version and it drops its record (`superseded`), or its PUT fails
 *   against the newer record and the check after that does.
 * - A duplicate event for the same version: both runs pass the check; one PUT lands, the other
 *   fails, looks again, passes again and writes the same record once more.
 */
export async function writeIfHalvesCurrent(
  store: ObjectStore,
  id: string,
  body: string,
  read: readonly HalfVersion[],
  needs: PairNeeds,
): Promise<ResultWrite> {
  const resultKey = pairKeys.result(id);
  for (let attempt = 1; attempt <= WRITE_ATTEMPTS; attempt++) {
    // The look at the result comes first: the argument above needs it before the check.
    const result = (await store.list(resultKey, { limit: 1 })).find((o) => o.key === resultKey);
    const current = halvesOf(await store.list(`${PREFIXES.inbox}${id}.`), id);
    const now = [...(needs.image ? current.images : []), ...(needs.text ? current.texts : [])].map((o) => ({
      key: o.key,
      etag: o.etag ?? '',
    }));
    if (!sameVersions(read, now)) {
      return { written: false, reason: 'a half changed while the pair ran: the run of its new version writes' };
    }
    const condition = result?.etag ? { ifMatch: result.etag } : ({ ifNoneMatch: '*' } as const);
    const etag = await store.putIf(resultKey, body, condition, 'application/x-ndjson', halvesMetadata(read));
    if (etag !== null) return { written: true };
  }
  throw new Error(`${resultKey}: ${WRITE_ATTEMPTS} conditional writes met another writer; the event is retried`);
}

/** A pair of inbox/ without an up-to-date record: what it has, and how long it has waited. */
export interface WaitingPair {
  readonly id: string;
  readonly images: readonly string[];
  readonly texts: readonly string[];
  /**
   * Halves with no object. Whether the pair waits for one depends on the deployed model, which
   * the bucket does not say: an image-only model never waits for a caption.
   */
  readonly missing: readonly ('image' | 'text')[];
  /** `none`: no results/pairs/<id>.json; `older`: it predates the newest half. */
  readonly result: 'none' | 'older';
  readonly newestHalfAt: string;
  readonly newestHalfAgeSeconds: number;
}

/** An inbox/ key the pipeline does not run, and why (classifyKey's reason). */
export interface RefusedInboxKey {
  readonly key: string;
  readonly reason: string;
}

export interface InboxBacklog {
  readonly waiting: readonly WaitingPair[];
  readonly refused: readonly RefusedInboxKey[];
}

/** results/pairs/<id>.json: the prefix and suffix around an id (pairKeys.result). */
const RESULT_PREFIX = `${PREFIXES.results}pairs/`;
const RESULT_SUFFIX = '.json';
const timeOf = (o: StoredObject) => o.lastModified?.getTime() ?? 0;

/**
 * The inbox pairs with no record, or a record older than their newest half, and the inbox keys
 * the pipeline refuses: two listings (inbox/ and results/pairs/), whatever the inbox holds.
 * Halves of one id are grouped by id, not by adjacency (`cat.png`, `cat.x.png`, `cat.txt`).
 * A record from the same second as its newest half counts as up to date: S3 gives listings
 * whole seconds, and a record is written after the halves it was made from.
 */
export async function inboxBacklog(store: ObjectStore, now: Date = new Date()): Promise<InboxBacklog> {
  const [inbox, results] = await Promise.all([store.list(PREFIXES.inbox), store.list(RESULT_PREFIX)]);
  const resultAt = new Map(
    results
      .filter((o) => o.key.endsWith(RESULT_SUFFIX))
      .map((o) => [o.key.slice(RESULT_PREFIX.length, -RESULT_SUFFIX.length), timeOf(o)]),
  );
  const byId = new Map<string, { images: StoredObject[]; texts: StoredObject[] }>();
  const refused: RefusedInboxKey[] = [];
  for (const object of inbox) {
    const kind = classifyKey(object.key);
    if (kind.kind === 'ignored') {
      refused.push({ key: object.key, reason: kind.reason });
      continue;
    }
    if (kind.kind !== 'pair-image' && kind.kind !== 'pair-text') continue;
    const halves = byId.get(kind.id) ?? { images: [], texts: [] };
    (kind.kind === 'pair-image' ? halves.images : halves.texts).push(object);
    byId.set(kind.id, halves);
  }
  const waiting: WaitingPair[] = [];
  for (const [id, { images, texts }] of [...byId].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
    const newest = Math.max(...[...images, ...texts].map(timeOf));
    const recorded = resultAt.get(id);
    if (recorded !== undefined && recorded >= newest) continue;
    waiting.push({
      id,
      images: images.map((o) => o.key),
      texts: texts.map((o) => o.key),
      missing: [...(images.length ? [] : ['image' as const]), ...(texts.length ? [] : ['text' as const])],
      result: recorded === undefined ? 'none' : 'older',
      newestHalfAt: new Date(newest).toISOString(),
      newestHalfAgeSeconds: Math.max(0, Math.round((now.getTime() - newest) / 1000)),
    });
  }
  return { waiting, refused };
}
