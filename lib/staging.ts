import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

const staged: string[] = [];

/**
 * A new scratch folder for an asset the app stages before CDK copies it into the cloud assembly
 * (a layer's packages, the GPU image's build context). CDK copies an asset when its construct is
 * made, so the folder is spent once synthesis ends: it is removed when the process exits, or every
 * `cdk synth`, `cdk deploy` and test run would leave hundreds of megabytes behind in the temp folder.
 */
export function stagingDir(name: string): string {
  if (staged.length === 0) process.once('exit', removeStaged);
  const dir = mkdtempSync(path.join(tmpdir(), `fusebatch-${name}-`));
  staged.push(dir);
  return dir;
}

/** Removes every folder stagingDir made so far (also run when the process exits). */
export function removeStaged(): void {
  for (const dir of staged.splice(0)) rmSync(dir, { recursive: true, force: true });
}
