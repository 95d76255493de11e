/**
 * Vitest global setup: the run's temp files go in one folder of their own, removed when the run
 * ends. Tests, the CDK app they synthesize, the processes they start and the Chromium they unpack
 * all write under os.tmpdir(); a full run writes about 1.7 GB there, which would otherwise stay.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

export default function setup(): () => void {
  const dir = mkdtempSync(path.join(tmpdir(), 'fusebatch-test-run-'));
  // Read by os.tmpdir() on every call, and inherited by the test workers and their children.
  process.env.TMPDIR = dir;
  return () => rmSync(dir, { recursive: true, force: true });
}
