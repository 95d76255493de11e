/**
 * `npm test`'s pretest: makes sure the two outside programs the tests drive are here, and
 * installs them when it can, so that `npm ci && npm test` needs nothing else typed.
 *   - Debian's AWS CLI (/usr/bin/aws): a real S3 client against the local pipeline.
 *   - A headless Chromium that starts: the report's browser tests. On Linux x64 it arrives with
 *     `npm ci` (@sparticuz/chromium); it needs the NSS libraries, which Debian's libnss3 brings.
 * Installs with apt-get when running as root on Debian; otherwise, when something is missing,
 * prints one line saying what to run and exits 1.
 */

import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { ChromiumMissingError, chromiumExecutable } from '../test/helpers/chromium.js';

const AWS_CLI = '/usr/bin/aws';

const canApt = () => process.getuid?.() === 0 && existsSync('/usr/bin/apt-get');

let aptUpdated = false;
function aptInstall(packages: string[]): void {
  console.error(`fusebatch tests: installing Debian's ${packages.join(', ')} with apt-get`);
  const apt = (args: string[]) => {
    // apt's own chatter (debconf's notes) is shown only when the install fails.
    const run = spawnSync('apt-get', args, {
      encoding: 'utf8',
      env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
    });
    if (run.status !== 0) fail(`apt-get ${args.join(' ')} failed:\n${run.stderr}`);
  };
  if (!aptUpdated) apt(['update', '-qq']);
  aptUpdated = true;
  apt(['install', '-y', '-qq', '--no-install-recommends', ...packages]);
}

function fail(line: string): never {
  console.error(`fusebatch tests: ${line}`);
  process.exit(1);
}

function ensureAwsCli(): void {
  if (existsSync(AWS_CLI)) return;
  if (!canApt()) fail(`Debian's AWS CLI is missing at ${AWS_CLI}: run \`sudo apt-get install -y awscli\``);
  aptInstall(['awscli']);
}

async function ensureChromium(): Promise<void> {
  let executable: string;
  try {
    executable = await chromiumExecutable();
  } catch (error) {
    if (!(error instanceof ChromiumMissingError)) throw error;
    if (!canApt()) fail(error.message);
    aptInstall(['chromium']);
    executable = await chromiumExecutable();
  }
  const starts = () => spawnSync(executable, ['--version'], { encoding: 'utf8' });
  let run = starts();
  if (run.status === 0) return;
  // The npm-shipped build links only NSS and the C library; NSS is the part a bare Debian lacks.
  if (!canApt()) {
    fail(`${executable} does not start (${firstLine(run.stderr)}): run \`sudo apt-get install -y libnss3\``);
  }
  aptInstall(['libnss3']);
  run = starts();
  if (run.status !== 0) fail(`${executable} does not start: ${firstLine(run.stderr)}`);
}

const firstLine = (text: string | null) => (text ?? '').trim().split('\n')[0] || 'no message';

ensureAwsCli();
await ensureChromium();
