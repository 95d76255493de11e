/**
 * Reading a job back: `fusebatch results` fetches parts a window at a time but yields records in
 * listing order, and its csv and table formats stream with a window of rows in memory.
 */
import { describe, expect, it } from 'vitest';
import { jobRecords, PART_PREFETCH } from '../../cli/bucket-commands.js';
import { flatten, formatRecords } from '../../cli/record-format.js';
import type { OutputRecord } from '../../lambdas/core/records.js';
import { ReaderStore } from '../helpers/reader-store.js';

const model = { name: 'm', version: '1', sha256: 'a'.repeat(64) };
const ok = (id: string, tasks: Record<string, unknown> = { match: { score: 0.5 } }): OutputRecord =>
  ({ id, inputs: { image: `${id}.png`, text: `caption ${id}` }, model, engine: 'cpu', status: 'ok', tasks }) as never;
const failed = (id: string): OutputRecord => ({
  id,
  inputs: { image: `${id}.png`, text: null },
  model,
  engine: 'cpu',
  status: 'error',
  error: { code: 'IMAGE_TRUNCATED', message: 'cut' },
});

async function* each<T>(items: readonly T[]): AsyncGenerator<T> {
  yield* items;
}
async function collect(chunks: AsyncIterable<string>): Promise<string> {
  let out = '';
  for await (const c of chunks) out += c;
  return out;
}

describe('fusebatch results: parts prefetched, records in listing order', () => {
  // 30 results parts of 3 records and 30 errors parts of one; chunk names wider than 5 digits.
  const PARTS = 30;
  const job = 'big/job';
  function bucket(delay: (key: string) => number) {
    const store = new ReaderStore(delay);
    for (let c = 0; c < PARTS; c++) {
      const name = String(c).padStart(7, '0');
      const records = [0, 1, 2].map((k) => ok(`p${name}-${k}`));
      store.objects.set(
        `results/jobs/${job}/parts/${name}.jsonl`,
        new TextEncoder().encode(records.map((r) => JSON.stringify(r) + '\n').join('')),
      );
      store.objects.set(
        `results/jobs/${job}/errors/${name}.jsonl`,
        new TextEncoder().encode(JSON.stringify(failed(`e${name}`)) + '\n'),
      );
    }
    return store;
  }

  it('yields every record in listing order though later parts arrive first, with at most the window in flight', async () => {
    // Prepare: each part of a window takes longer than the next one.
    const store = bucket((key) => 2 * (8 - (Number(key.match(/(\d+)\.jsonl$/)![1]) % 8)));
    // Act
    const ids: string[] = [];
    for await (const r of jobRecords(store, job)) ids.push(r.id);
    // Assess
    const names = Array.from({ length: PARTS }, (_, c) => String(c).padStart(7, '0'));
    expect(ids).toEqual([...names.flatMap((n) => [0, 1, 2].map((k) => `p${n}-${k}`)), ...names.map((n) => `e${n}`)]);
    expect(store.maxInFlight).toBe(PART_PREFETCH);
    expect(store.gets).toBe(2 * PARTS);
  });

  it('stops fetching ahead when the reader stops reading', async () => {
    // Prepare
    const store = bucket(() => 1);
    const records = jobRecords(store, job);
    // Act: read one record, then leave the rest unread for a while.
    await records.next();
    await new Promise((resolve) => setTimeout(resolve, 50));
    // Assess: the part being read, and the window behind it.
    expect(store.gets).toBeLessThanOrEqual(1 + PART_PREFETCH);
    await records.return(undefined);
  });
});

describe('fusebatch results --format csv|table: streamed', () => {
  it('fixes the columns from the window, keeps error last, and leaves out a later task with one note', async () => {
    // Prepare: 3 rows in the window, then a row with a new task and an error row.
    const records = [
      ok('a'),
      ok('b'),
      ok('c'),
      ok('d', { match: { score: 0.25 }, count: { value: 2 } }),
      ok('e', { match: { score: 0.75 }, count: { value: 3 } }),
      failed('f'),
    ];
    const notes: string[] = [];
    // Act
    const csv = await collect(formatRecords(each(records), 'csv', { window: 3, onNote: (n) => notes.push(n) }));
    // Assess
    expect(csv.split('\n')).toEqual([
      'id,status,text,match,error',
      'a,ok,caption a,0.500,',
      'b,ok,caption b,0.500,',
      'c,ok,caption c,0.500,',
      'd,ok,caption d,0.250,',
      'e,ok,caption e,0.750,',
      'f,error,,,IMAGE_TRUNCATED',
      '',
    ]);
    expect(notes).toEqual(['column count first appears after the first 3 rows and is left out']);
  });

  it('sizes table columns from the window and cuts a wider later value to its column', async () => {
    // Prepare
    const records = [ok('a'), ok('b'), ok('a-much-longer-id-than-the-window-had'), failed('e')];
    // Act
    const table = await collect(formatRecords(each(records), 'table', { window: 2 }));
    // Assess
    const lines = table.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^id +status +text +match +error$/);
    expect(lines[0].indexOf('status')).toBe(4); // 'id' is the widest of the window's ids
    expect(lines[3].startsWith('a-  ok')).toBe(true);
    expect(lines[4]).toMatch(/^e +error +IMAGE_TRUNCATED$/); // error codes are never cut
  });

  it('holds only the window: a long stream is printed before it ends', async () => {
    // Prepare: an endless source; the first lines must come out anyway.
    async function* endless(): AsyncGenerator<OutputRecord> {
      for (let i = 0; ; i++) yield ok(`p${i}`);
    }
    // Act
    const lines: string[] = [];
    for await (const chunk of formatRecords(endless(), 'table', { window: 10 })) {
      lines.push(chunk);
      if (lines.length === 25) break;
    }
    // Assess: the header, then p0…p23, cut to the window's widths.
    expect(lines[24]).toBe('p2  ok      caption p2  0.500\n');
  });

  it('flattens a record as before: id, status, caption, error code or each task’s cell', () => {
    expect(flatten(failed('x'))).toEqual({ id: 'x', status: 'error', text: '', error: 'IMAGE_TRUNCATED' });
    expect(flatten(ok('y'))).toEqual({ id: 'y', status: 'ok', text: 'caption y', match: '0.500' });
  });
});
