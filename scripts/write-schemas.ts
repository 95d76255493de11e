/**
 * Writes the generated contract files: schemas/*.schema.json (from the zod record schemas)
 * and docs/error-codes.md (from the error-code table). A test fails when they are stale.
 */
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { errorCodesMarkdown } from '../lambdas/core/error-codes-doc.js';
import { recordJsonSchemas } from '../lambdas/core/records.js';

const root = path.resolve(import.meta.dirname, '..');
for (const [name, schema] of Object.entries(recordJsonSchemas())) {
  await writeFile(path.join(root, 'schemas', name), JSON.stringify(schema, null, 2) + '\n');
}
await writeFile(path.join(root, 'docs', 'error-codes.md'), errorCodesMarkdown());
console.log('wrote schemas/ and docs/error-codes.md');
