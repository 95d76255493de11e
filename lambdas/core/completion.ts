/**
 * Job completion in constant work per chunk: a tree of completion markers.
 *
 * Chunks are the leaves (level 0). Each node of level k + 1 groups up to `fanout` nodes of
 * level k; the top level has one node, the job. When a node is done its marker is written
 * under its parent's folder, `done/<level>/<parent>/<node>.<version>.<results>.<errors>`:
 * the tally is in the key, so one LIST of a folder (at most `fanout` keys: one page) gives a
 * parent everything it needs, with no GET. The chunk whose listing shows its group
 * complete writes the group's marker and looks one level up, and so on; so a chunk lists one
 * folder, a 1/fanout share of chunks list two, and no chunk ever lists the whole job.
 *
 * Markers are only ever created, never updated, so two workers cannot race on a
 * read-modify-write: S3 lists a key as soon as its PUT returns, so of the last two children of
 * a group to finish, at least the later one sees the other. A chunk run again by a redrive
 * writes a marker with a higher version (its generation); a parent's version is the sum of
 * its children's, so a later listing always yields the higher version, and readers take each
 * node's highest.
 */
import { jobKeys } from './keys.js';
import type { ObjectStore } from './ports.js';

/**
 * Children per node. Any fanout up to 1,000 keeps a folder to one LIST page; 100 keeps each
 * listing small (a chunk reads at most 100 keys) while 1,000,000 chunks still need only four
 * levels, so the extra LISTs of completing nodes stay near 1 % of chunks.
 */
export const DEFAULT_FANOUT = 100;

/** A done node's tally: records written under it. */
export interface Tally {
  readonly results: number;
  readonly errors: number;
}

export interface NodeMarker extends Tally {
  readonly node: number;
  readonly version: number;
  readonly lastModified?: Date;
}

/** What the tree needs to know about a job. */
export interface TreeJob {
  readonly job: string;
  readonly chunks: number;
  readonly fanout: number;
}

/** Node counts per level, leaves first; the last level has one node. Empty for a job with no chunks. */
export function treeLevels(chunks: number, fanout: number): number[] {
  if (!Number.isInteger(fanout) || fanout < 2)
    throw new RangeError(`fanout must be an integer of 2 or more, got ${fanout}`);
  if (chunks === 0) return [];
  const levels = [chunks];
  while (levels[levels.length - 1] > 1) levels.push(Math.ceil(levels[levels.length - 1] / fanout));
  return levels;
}

/** Chunks under node `node` of level `level`. */
export function leavesUnder(job: TreeJob, level: number, node: number): number {
  const span = job.fanout ** level;
  return Math.min((node + 1) * span, job.chunks) - node * span;
}

/** Children of node `node` of level `level` (> 0). */
function childrenOf(levels: readonly number[], fanout: number, level: number, node: number): number {
  return Math.min(fanout, levels[level - 1] - node * fanout);
}

/** The folder of one node's children: keys.ts owns the layout (and IAM grants follow it). */
const folder = jobKeys.done;

export function markerKey(job: TreeJob, level: number, marker: NodeMarker): string {
  const group = Math.floor(marker.node / job.fanout);
  return `${folder(job.job, level, group)}${marker.node}.${marker.version}.${marker.results}.${marker.errors}`;
}

const MARKER = /^(\d+)\.(\d+)\.(\d+)\.(\d+)$/;

/** The latest marker of each node in a listing of one folder. */
export function latestMarkers(
  keys: readonly { key: string; lastModified?: Date }[],
  prefix: string,
): Map<number, NodeMarker> {
  const latest = new Map<number, NodeMarker>();
  for (const { key, lastModified } of keys) {
    const m = MARKER.exec(key.slice(prefix.length));
    if (!m) continue;
    const marker = { node: +m[1], version: +m[2], results: +m[3], errors: +m[4], lastModified };
    const seen = latest.get(marker.node);
    if (!seen || marker.version > seen.version) latest.set(marker.node, marker);
  }
  return latest;
}

async function listFolder(store: ObjectStore, job: TreeJob, level: number, group: number) {
  const prefix = folder(job.job, level, group);
  return latestMarkers(await store.list(prefix), prefix);
}

const sum = (markers: Iterable<NodeMarker>) => {
  let results = 0;
  let errors = 0;
  let version = 0;
  for (const m of markers) {
    results += m.results;
    errors += m.errors;
    version += m.version;
  }
  return { results, errors, version };
};

export interface ChunkDoneOutcome {
  /** Whether this chunk's marker completed the whole job (the root's marker is written). */
  readonly jobComplete: boolean;
  /** The job's tally, when complete. */
  readonly tally?: Tally;
  /** LIST calls made (constant: 1, plus one per level completed). */
  readonly lists: number;
}

/**
 * Records a chunk as done and completes every node above it that this finds complete.
 * `onSubtree` sees the tally of each folder listed (a lower bound of the job's errors),
 * so that an error threshold can be checked on the way.
 */
export async function recordChunkDone(
  store: ObjectStore,
  job: TreeJob,
  chunk: number,
  version: number,
  tally: Tally,
  onSubtree?: (tally: Tally) => Promise<void>,
): Promise<ChunkDoneOutcome> {
  const levels = treeLevels(job.chunks, job.fanout);
  let marker: NodeMarker = { node: chunk, version, ...tally };
  let lists = 0;
  for (let level = 0; ; level++) {
    await store.put(markerKey(job, level, marker), '', 'text/plain');
    if (level === levels.length - 1) return { jobComplete: true, tally: marker, lists };
    const parent = Math.floor(marker.node / job.fanout);
    const children = await listFolder(store, job, level, parent);
    lists++;
    const total = sum(children.values());
    await onSubtree?.(total);
    if (children.size < childrenOf(levels, job.fanout, level + 1, parent)) return { jobComplete: false, lists };
    marker = { node: parent, ...total };
  }
}

/** Whether a chunk is done at this version or a later one (a redelivered message is skipped). */
export async function chunkDone(store: ObjectStore, job: TreeJob, chunk: number, version: number): Promise<boolean> {
  const prefix = folder(job.job, 0, Math.floor(chunk / job.fanout));
  const markers = latestMarkers(await store.list(`${prefix}${chunk}.`), prefix);
  const marker = markers.get(chunk);
  return marker !== undefined && marker.version >= version;
}

export interface Progress extends Tally {
  readonly doneChunks: number;
  readonly complete: boolean;
  /** When the job's root marker was written. */
  readonly finished?: Date;
  /** Chunks not done, in order (only those under incomplete nodes, which is all of them). */
  readonly missing: number[];
  /** Per done chunk, its tally, for the chunks under incomplete nodes only (what was listed). */
  readonly leaves: Map<number, NodeMarker>;
  readonly lists: number;
}

/**
 * A job's progress, read top-down: a done node's marker answers for its whole subtree, so
 * only incomplete nodes are opened; `full` opens every node down to the chunks (for a redrive).
 */
export async function readProgress(
  store: ObjectStore,
  job: TreeJob,
  options: { full?: boolean; concurrency?: number } = {},
): Promise<Progress> {
  const levels = treeLevels(job.chunks, job.fanout);
  const progress = { results: 0, errors: 0, doneChunks: 0, missing: [] as number[], lists: 0 };
  const leaves = new Map<number, NodeMarker>();
  if (!levels.length) return { ...progress, complete: true, leaves };
  const top = levels.length - 1;
  const limit = options.concurrency ?? 8;
  // Folders to open, breadth-first, a few at a time: [level of the children, group].
  let frontier: [number, number][] = [[top, 0]];
  let root: NodeMarker | undefined;
  while (frontier.length) {
    const next: [number, number][] = [];
    for (let i = 0; i < frontier.length; i += limit) {
      const batch = frontier.slice(i, i + limit);
      const listings = await Promise.all(batch.map(([level, group]) => listFolder(store, job, level, group)));
      progress.lists += batch.length;
      for (const [b, [level, group]] of batch.entries()) {
        const markers = listings[b];
        const count = level === top ? 1 : childrenOf(levels, job.fanout, level + 1, group);
        for (let k = 0; k < count; k++) {
          const node = group * job.fanout + k;
          const marker = markers.get(node);
          if (level === top) root = marker;
          if (marker && !(options.full && level > 0)) {
            progress.results += marker.results;
            progress.errors += marker.errors;
            progress.doneChunks += leavesUnder(job, level, node);
            if (level === 0) leaves.set(node, marker);
          } else if (level === 0) progress.missing.push(node);
          else next.push([level - 1, node]);
        }
      }
    }
    frontier = next;
  }
  progress.missing.sort((a, b) => a - b);
  return {
    ...progress,
    leaves,
    complete: progress.doneChunks === job.chunks,
    finished: progress.doneChunks === job.chunks ? root?.lastModified : undefined,
  };
}
