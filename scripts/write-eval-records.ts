/**
 * Rewrites the stored copy of the evaluation pairs' records and mask hashes that
 * test/runtime/records-stable.test.ts compares with: run it after the reference model changes
 * (never to make a code change pass).
 */
import { writeFile } from 'node:fs/promises';
import { EVAL_MASKS, EVAL_RECORDS, evalRecords } from '../test/helpers/eval-records.js';

const { lines, masks } = await evalRecords();
await writeFile(EVAL_RECORDS, lines.join('\n') + '\n');
await writeFile(EVAL_MASKS, masks.join('\n') + '\n');
console.log(`wrote ${lines.length} records and ${masks.length} mask hashes`);
