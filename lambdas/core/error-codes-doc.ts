import { ERROR_CODES } from './errors.js';

/** docs/error-codes.md: the one documented list of error codes. */
export function errorCodesMarkdown(): string {
  const rows = Object.entries(ERROR_CODES).map(([code, meaning]) => `| \`${code}\` | ${meaning} |`);
  return [
    '# Error codes',
    '',
    'Every input pair ends as exactly one result record or one error record. An error record',
    'carries `error.code`, one of the stable strings below, and `error.message`, which says what',
    'to do. Codes are never renamed or reused. Generated from `lambdas/core/errors.ts` by',
    '`npm run schemas`.',
    '',
    '| code | meaning |',
    '| --- | --- |',
    ...rows,
    '',
  ].join('\n');
}
