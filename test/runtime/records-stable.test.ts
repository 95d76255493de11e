/**
 * The evaluation pairs' records and masks, byte for byte, against a copy made before the task
 * kinds became modules (test/fixtures/eval-records.wasm.jsonl and eval-masks.wasm.sha256). The
 * wasm engine gives the same numbers on any machine, so these are exact. When the reference
 * model itself changes, the copy is rewritten with `npm run fixtures:records`; so are the mask
 * hashes (of the PNG files' bytes) when the PNG writer changes how it compresses the same pixels.
 */
import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { EVAL_MASKS, EVAL_RECORDS, evalRecords } from '../helpers/eval-records.js';

describe('Records: the evaluation set, byte for byte', () => {
  it('gives the same record lines and mask PNGs as the stored copy', async () => {
    // Prepare
    const expectedLines = (await readFile(EVAL_RECORDS, 'utf8')).split('\n');
    const expectedMasks = (await readFile(EVAL_MASKS, 'utf8')).split('\n');
    // Act
    const { lines, masks } = await evalRecords();
    // Assess
    expect(lines.length).toBe(300);
    expect(lines.join('\n')).toBe(expectedLines.filter(Boolean).join('\n'));
    expect(masks).toEqual(expectedMasks.filter(Boolean));
  });
});
