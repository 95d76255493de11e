/**
 * The headless Chromium that the report's browser tests and `bench:report` drive through
 * playwright-core. Which one, in order:
 *   1. FUSEBATCH_CHROMIUM, a path the user chose;
 *   2. on Linux x64, the one that arrives with `npm ci` (@sparticuz/chromium: a headless build
 *      shipped inside its npm tarball, unpacked to the temp folder on first use, about 2 s);
 *   3. Debian's /usr/bin/chromium.
 * `npm test`'s pretest (scripts/test-prerequisites.ts) checks that the chosen one starts.
 */

import { existsSync } from 'node:fs';
import { type Browser, chromium } from 'playwright-core';

const DEBIAN_CHROMIUM = '/usr/bin/chromium';

/** Flags for a root user in a container: no sandbox, no zygote, software GL, no background fetches. */
const LAUNCH_ARGS = [
  '--no-sandbox',
  '--no-zygote',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--no-first-run',
];

export class ChromiumMissingError extends Error {
  override name = 'ChromiumMissingError';
}

/** The Chromium executable to use, unpacking the npm-shipped one if that is the choice. */
export async function chromiumExecutable(): Promise<string> {
  const chosen = process.env.FUSEBATCH_CHROMIUM;
  if (chosen) {
    if (!existsSync(chosen)) throw new ChromiumMissingError(`FUSEBATCH_CHROMIUM=${chosen} does not exist`);
    return chosen;
  }
  if (process.platform === 'linux' && process.arch === 'x64') {
    const { default: shipped } = await import('@sparticuz/chromium');
    return shipped.executablePath();
  }
  if (existsSync(DEBIAN_CHROMIUM)) return DEBIAN_CHROMIUM;
  throw new ChromiumMissingError(
    `no headless Chromium for ${process.platform}/${process.arch}: install one (Debian: apt-get install -y chromium) or set FUSEBATCH_CHROMIUM to its path`,
  );
}

export async function launchChromium(): Promise<Browser> {
  return chromium.launch({ executablePath: await chromiumExecutable(), args: LAUNCH_ARGS });
}
