/**
 * Object listings in key order over s3rver's ListObjects (V1), for the local S3 front.
 *
 * s3rver lists by walking its folders, each folder's entries in byte order of their names, where
 * a subfolder goes by its bare name and an object by its name plus `._S3rver_object`. That is not
 * key order: 'a/b' is walked before 'a-x' and 'a', 'img-2' before 'img'. A page is the first 1,000
 * keys of that walk above the marker, and the marker drops every key below it, so paging on with
 * the page's last key loses keys. Its V2 tokens need a DES cipher Node 17+ refuses, and with a
 * delimiter it misses a folder that holds only folders.
 *
 * So the front pages through V1 without a delimiter and, after each page, adds back what moving
 * the marker up to the page's last key `w` skips: keys below `w` that the walk reaches after `w`.
 * Taking a key below `w` at the first folder level where the two differ, those are
 *  - an object whose name is a prefix of the name on w's path at that level and whose file name
 *    sorts after that name ('img' after 'img-2', object 'a' after folder 'a/'): a few keys at
 *    most, each asked for with a HEAD;
 *  - anything under the name of one of w's folders followed by a character below '/' ('a-x/…',
 *    'a.b' are walked after folder 'a/'): listed by those prefixes, only where the page has moved
 *    into a folder.
 * Keys up to `w` are then all known and are handed out sorted; those above wait for later pages.
 * Delimiters and max-keys are applied here, on the keys in order.
 * Order is JavaScript's (UTF-16), which is S3's UTF-8 byte order except between characters above
 * U+FFFF and U+E000-U+FFFF. Keys s3rver cannot keep apart as files ('a//b', '.' or '..' segments)
 * are out of scope.
 */

export interface ListedObject {
  readonly key: string;
  /** ISO 8601. */
  readonly lastModified: string;
  /** Quoted, as S3 gives it. */
  readonly etag: string;
  readonly size: number;
  readonly storageClass: string;
}

/** What the listing needs from s3rver, for one bucket. */
export interface ListingSource {
  /** V1 ListObjects without a delimiter: up to `maxKeys` keys with `prefix` above `marker`, in walk order. */
  page(prefix: string, marker: string, maxKeys: number): Promise<{ objects: ListedObject[]; truncated: boolean }>;
  /** HeadObject, as a listing entry; undefined when there is no such key. */
  head(key: string): Promise<ListedObject | undefined>;
  /**
   * Prefixes that together hold every key named like `folder` (a key prefix without its '/')
   * plus a character below '/'. Absent: one prefix per such character, each a listing that
   * walks the folder again (s3rver enters every folder whose path starts the prefix).
   */
  siblingPrefixes?(folder: string): Promise<string[]>;
}

const PAGE_SIZE = 1000;
const OBJECT_FILE_SUFFIX = '._S3rver_object';
/** U+0001 to '.', the characters that sort below '/'. */
const BELOW_SLASH = Array.from({ length: 0x2e }, (_, i) => String.fromCharCode(i + 1));
/** The last UTF-16 code unit: P plus it sorts above every key under P that must be skipped. */
const AFTER_EVERYTHING = '\uffff';

export const compareKeys = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

const utf8 = (s: string) => Buffer.from(s, 'utf8');

/** Objects whose key is a prefix of `last` and which s3rver's walk reaches after `last`. */
export function objectsWalkedAfter(last: string, minLength: number): string[] {
  const found: string[] = [];
  let start = 0;
  for (;;) {
    const slash = last.indexOf('/', start);
    const isFolder = slash !== -1;
    const end = isFolder ? slash : last.length;
    const name = last.slice(start, end);
    const entry = utf8(isFolder ? name : name + OBJECT_FILE_SUFFIX);
    // Up to the whole name for a folder (an object named like it); short of it for an object (itself).
    for (let i = Math.max(start, minLength, 1); i <= (isFolder ? end : end - 1); i++) {
      if (Buffer.compare(utf8(last.slice(start, i) + OBJECT_FILE_SUFFIX), entry) > 0) found.push(last.slice(0, i));
    }
    if (!isFolder) return found;
    start = slash + 1;
  }
}

/** Where `last` names a folder at or past `minLength`: the index of each such '/'. */
function folderEnds(last: string, minLength: number): number[] {
  const ends: number[] = [];
  for (let i = last.indexOf('/', minLength); i !== -1; i = last.indexOf('/', i + 1)) ends.push(i);
  return ends;
}

/** Every object with `prefix` whose key sorts after `after`, in key order, read page by page. */
export class ObjectsInOrder {
  /** Known objects not yet handed out, above the keys known to be complete. */
  private readonly waiting = new Map<string, ListedObject>();
  /** Complete and sorted, to hand out. */
  private ready: ListedObject[] = [];
  private marker: string;
  private pages = 0;
  private truncated = true;

  /** `firstPage`: keys to ask for first, when the caller likely needs only a few. */
  constructor(
    private readonly source: ListingSource,
    private readonly prefix: string,
    private readonly after: string,
    private readonly firstPage = PAGE_SIZE,
  ) {
    this.marker = after;
  }

  async next(): Promise<ListedObject | undefined> {
    while (!this.ready.length && this.truncated) await this.readPage();
    return this.ready.shift();
  }

  /** True when the next object is already read (next() will not ask s3rver). */
  get hasReady(): boolean {
    return this.ready.length > 0;
  }

  /** True when more objects are sure to come without reading on (s3rver said so, or some wait). */
  get moreCertain(): boolean {
    return this.pages > 0 && (this.ready.length > 0 || this.waiting.size > 0 || this.truncated);
  }

  async all(): Promise<ListedObject[]> {
    const out: ListedObject[] = [];
    for (let o = await this.next(); o; o = await this.next()) out.push(o);
    return out;
  }

  private keep(o: ListedObject) {
    if (o.key > this.after && o.key.startsWith(this.prefix)) this.waiting.set(o.key, o);
  }

  private async readPage() {
    const { source, prefix } = this;
    const size = this.pages++ === 0 ? this.firstPage : PAGE_SIZE;
    const page = await source.page(prefix, this.marker, size);
    for (const o of page.objects) this.keep(o);
    this.truncated = page.truncated;
    const last = page.objects.at(-1)?.key;
    if (page.truncated) {
      if (last === undefined) throw new Error('s3rver answered a truncated listing page without keys');
      // Keys at or below the old marker were settled by the pages before.
      const floor = this.marker;
      const skipped = objectsWalkedAfter(last, prefix.length).filter((k) => k > floor && !this.waiting.has(k));
      for (const o of await Promise.all(skipped.map((k) => source.head(k)))) if (o) this.keep(o);
      const folders = folderEnds(last, prefix.length)
        .filter((slash) => floor < last.slice(0, slash + 1))
        .map((slash) => last.slice(0, slash));
      const siblingPrefixes = (
        await Promise.all(folders.map((f) => source.siblingPrefixes?.(f) ?? BELOW_SLASH.map((c) => f + c)))
      ).flat();
      const siblings = await Promise.all(siblingPrefixes.map((p) => new ObjectsInOrder(source, p, floor).all()));
      for (const list of siblings) for (const o of list) this.keep(o);
      this.marker = last;
    }
    const complete = [...this.waiting.keys()].filter((k) => !page.truncated || k <= last!).sort(compareKeys);
    for (const key of complete) {
      this.ready.push(this.waiting.get(key)!);
      this.waiting.delete(key);
    }
  }
}

export interface ListRequest {
  readonly prefix: string;
  /** Rolls keys up into common prefixes; absent or empty: none. */
  readonly delimiter?: string;
  /** List what sorts after this (a key, or a common prefix handed out before: then past all under it). */
  readonly after: string;
  /** Objects and common prefixes together, as S3 counts them. */
  readonly maxKeys: number;
}

export interface ListPage {
  readonly objects: readonly ListedObject[];
  readonly commonPrefixes: readonly string[];
  readonly truncated: boolean;
  /** The last object key or common prefix handed out: where the next page starts. */
  readonly last?: string;
}

/**
 * One page of ListObjects (V1 or V2, which differ only in how they say where to go on). It can
 * say it is truncated and the next page be empty, when the keys s3rver had left were found early.
 */
export async function listPage(source: ListingSource, request: ListRequest): Promise<ListPage> {
  const { prefix, maxKeys } = request;
  const delimiter = request.delimiter || undefined;
  const commonPrefixOf = (key: string) => {
    if (!delimiter) return undefined;
    const at = key.indexOf(delimiter, prefix.length);
    return at === -1 ? undefined : key.slice(0, at + delimiter.length);
  };
  const objects: ListedObject[] = [];
  const commonPrefixes: string[] = [];
  if (maxKeys === 0) return { objects, commonPrefixes, truncated: false };
  // Going on after a common prefix means going past every key under it: from what is already
  // read while it lasts, else by reading on from above them all (expecting few keys before the
  // next entry), which saves s3rver reading everything under a big one.
  let skipping: string | undefined;
  const pastAll = (common: string) => {
    skipping = common;
    return new ObjectsInOrder(source, prefix, common + AFTER_EVERYTHING, 1);
  };
  let stream =
    commonPrefixOf(request.after) === request.after
      ? pastAll(request.after)
      : new ObjectsInOrder(source, prefix, request.after);
  let last: string | undefined;
  for (;;) {
    if (!delimiter && objects.length === maxKeys) {
      // Without a delimiter every object left is an entry: no need to read one more to know.
      return { objects, commonPrefixes, truncated: stream.moreCertain, last };
    }
    if (skipping !== undefined && !stream.hasReady && stream.moreCertain) stream = pastAll(skipping);
    const o = await stream.next();
    if (!o) return { objects, commonPrefixes, truncated: false, last };
    if (skipping !== undefined && o.key.startsWith(skipping)) continue;
    skipping = undefined;
    if (objects.length + commonPrefixes.length === maxKeys) return { objects, commonPrefixes, truncated: true, last };
    const common = commonPrefixOf(o.key);
    if (common === undefined) {
      objects.push(o);
      last = o.key;
    } else {
      commonPrefixes.push(common);
      last = skipping = common;
    }
  }
}

const XML_ENTITIES: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" };

/** s3rver escapes text with he.escape: the five XML entities and numeric references. */
export function unescapeXml(text: string): string {
  return text.replace(/&(#x[0-9a-fA-F]+|#[0-9]+|[a-z]+);/g, (whole, name: string) => {
    if (name.startsWith('#x')) return String.fromCodePoint(Number.parseInt(name.slice(2), 16));
    if (name.startsWith('#')) return String.fromCodePoint(Number.parseInt(name.slice(1), 10));
    return XML_ENTITIES[name] ?? whole;
  });
}

const ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&apos;' };

export const escapeXml = (text: string) => text.replace(/[&<>"']/g, (c) => ESCAPES[c]);

const tagPattern = (tag: string) => new RegExp(`<${tag}>([\\s\\S]*?)</${tag}>`);
const CONTENTS = /<Contents>([\s\S]*?)<\/Contents>/g;
const FIELDS = {
  key: tagPattern('Key'),
  lastModified: tagPattern('LastModified'),
  etag: tagPattern('ETag'),
  size: tagPattern('Size'),
  storageClass: tagPattern('StorageClass'),
};

/** s3rver's ListBucketResult (V1): its own, regular output, so patterns read it. */
export function parseListBucketV1(xml: string): { objects: ListedObject[]; truncated: boolean } {
  const field = (body: string, pattern: RegExp) => unescapeXml(pattern.exec(body)?.[1] ?? '');
  const objects = [...xml.matchAll(CONTENTS)].map(([, body]) => ({
    key: field(body, FIELDS.key),
    lastModified: field(body, FIELDS.lastModified),
    etag: field(body, FIELDS.etag),
    size: Number(field(body, FIELDS.size)),
    storageClass: field(body, FIELDS.storageClass) || 'STANDARD',
  }));
  return { objects, truncated: /<IsTruncated>true<\/IsTruncated>/.test(xml) };
}
