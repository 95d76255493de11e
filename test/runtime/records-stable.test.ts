/**
 * The evaluation pairs' records and masks, byte for byte, against a copy made before the task
 * kinds became modules (test/fixtures/eval-records.wasm.jsonl and eval-masks.wasm.sha256). The
 * wasm engine gives the same numbers on any machine, so these are exact. When the reference
 * model itself changes, the copy is rewritten with `npm run fixtures:records`.
 *
 * The copy holds records whose masks are PNGs (mask format `png`). The run here keeps them both
 * ways (`both`): without their `rle` fields the records must be the stored lines, and each RLE,
 * decoded and written as a PNG, must be the stored PNG's bytes.
 */
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { encodeDensePng } from '../../lambdas/adapters/image-codec.js';
import { kindOf } from '../../lambdas/core/kinds/index.js';
import { ModelManifestSchema } from '../../lambdas/core/manifest.js';
import type { ResultRecord } from '../../lambdas/core/records.js';
import { EVAL_MASKS, EVAL_RECORDS, evalRecords } from '../helpers/eval-records.js';
import { referenceBundle } from '../helpers/runtime.js';

describe('Records: the evaluation set, byte for byte', () => {
  it('gives the same record lines and mask PNGs as the stored copy, and RLEs that decode to those PNGs', async () => {
    // Prepare
    const expectedLines = (await readFile(EVAL_RECORDS, 'utf8')).split('\n');
    const expectedMasks = (await readFile(EVAL_MASKS, 'utf8')).split('\n');
    const manifest = ModelManifestSchema.parse(JSON.parse(await readFile(`${referenceBundle}/model.json`, 'utf8')));
    const inline = manifest.tasks.filter((t) => kindOf(t).inlineDense);
    // Act
    const { lines, masks } = await evalRecords('both');
    // Assess
    expect(lines.length).toBe(300);
    const withoutRle: string[] = [];
    const fromRle: string[] = [];
    for (const line of lines) {
      const record = JSON.parse(line) as ResultRecord;
      for (const task of inline) {
        const result = record.tasks[task.name] as { rle?: unknown };
        expect(result.rle, `${record.id} ${task.name}`).toBeDefined();
        const png = encodeDensePng(kindOf(task).inlineDense!(task, result as never)!);
        fromRle.push(`${record.id}.${task.name}.png ${createHash('sha256').update(png).digest('hex')}`);
        delete result.rle;
      }
      withoutRle.push(JSON.stringify(record));
    }
    expect(inline.map((t) => t.kind).sort()).toEqual(['segmentation', 'semantic-segmentation']);
    expect(withoutRle.join('\n')).toBe(expectedLines.filter(Boolean).join('\n'));
    expect(masks).toEqual(expectedMasks.filter(Boolean));
    expect(fromRle.sort()).toEqual(expectedMasks.filter(Boolean));
  });
});
