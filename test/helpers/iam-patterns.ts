/**
 * IAM's wildcard matching, written here for tests from IAM's rules rather than taken from the
 * code under test: in a resource ARN and in StringLike, `*` matches any run of characters
 * (`/` included, none at all too) and `?` exactly one; everything else matches itself.
 */
export function iamPatternMatches(pattern: string, value: string): boolean {
  const source = [...pattern]
    .map((c) => (c === '*' ? '.*' : c === '?' ? '.' : c.replace(/[.+^${}()|[\]\\/]/g, '\\$&')))
    .join('');
  return new RegExp(`^${source}$`, 's').test(value);
}
