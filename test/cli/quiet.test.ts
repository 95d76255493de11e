/**
 * A plain CLI run prints nothing on stderr that the user cannot act on (npm's config warnings,
 * the AWS SDK's Node-version notice), and the commands that talk to no bucket never load the
 * AWS SDK. Run through `npx fusebatch`, as the README shows, so npm's own warnings count too.
 */
import { execFile, spawn } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parityPairs, referenceBundle } from '../helpers/runtime.js';

const root = path.resolve(import.meta.dirname, '../..');
const importLog = path.join(root, 'test/helpers/import-log.mjs');
const run = promisify(execFile);

/** Lines a user could not act on: npm's warnings and any Node process warning. */
const WARNING = /npm warn|Warning:|NodeVersionSupportWarning|\(Use `node --trace-warnings/;

async function npxFusebatch(args: string[], env: NodeJS.ProcessEnv = {}) {
  return run('npx', ['--no-install', 'fusebatch', ...args], {
    cwd: root,
    timeout: 60_000,
    env: { ...process.env, ...env },
  });
}

/** Runs the command with a resolve hook that logs every module the process loads. */
async function modulesLoadedBy(args: string[], dir: string): Promise<string[]> {
  const log = path.join(dir, `imports-${args[0]}.log`);
  await npxFusebatch(args, { IMPORT_LOG: log, NODE_OPTIONS: `--import ${importLog}` });
  return (await readFile(log, 'utf8')).split('\n').filter(Boolean);
}

describe('CLI: a plain run is quiet', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'fusebatch-quiet-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('prints no warning for --help, validate-model and infer', async () => {
    // Act
    const help = await npxFusebatch(['--help']);
    const validate = await npxFusebatch(['validate-model', referenceBundle]);
    const infer = await npxFusebatch([
      'infer',
      '--model',
      referenceBundle,
      '--input',
      parityPairs,
      '--out',
      path.join(dir, 'out.jsonl'),
    ]);
    // Assess
    expect(help.stdout).toContain('Usage: fusebatch');
    expect(validate.stdout).toContain('ok');
    expect(infer.stdout).toMatch(/^\d+ pairs, 0 errors/);
    for (const { stderr } of [help, validate, infer]) expect(stderr).not.toMatch(WARNING);
  });

  it('prints no warning for serve, pair and query against the local server', async () => {
    // Prepare: `serve` runs until Ctrl-C; wait for its banner, then use its endpoint.
    // Its own process group, so that SIGINT reaches npx and the CLI as Ctrl-C does in a terminal.
    const server = spawn('npx', ['--no-install', 'fusebatch', 'serve', '--port', '0', '--data', path.join(dir, 's3')], {
      cwd: root,
      detached: true,
    });
    let serverOut = '';
    let serverErr = '';
    server.stderr.on('data', (b) => {
      serverErr += b;
    });
    const endpoint = await new Promise<string>((resolve, reject) => {
      server.stdout.on('data', (b) => {
        serverOut += b;
        const found = /endpoint\s+(http:\/\/\S+)/.exec(serverOut);
        if (found && serverOut.includes('serving;')) resolve(found[1]);
      });
      server.once('exit', (code) => reject(new Error(`serve exited with ${code}: ${serverErr}`)));
    });
    try {
      // Act
      const pair = await npxFusebatch([
        'pair',
        path.join(parityPairs, 'parity-00000.png'),
        'a red circle',
        '--id',
        'quiet',
        '--endpoint',
        endpoint,
      ]);
      const query = await npxFusebatch(['query', 'SELECT id, status FROM results', '--endpoint', endpoint]);
      // Assess
      expect(JSON.parse(pair.stdout)).toMatchObject({ id: 'quiet', status: 'ok' });
      expect(query.stdout).toMatch(/quiet\s+.*ok/);
      expect(pair.stderr).not.toMatch(WARNING);
      expect(query.stderr).not.toMatch(WARNING);
    } finally {
      const exited = new Promise((resolve) => server.once('exit', resolve));
      process.kill(-server.pid!, 'SIGINT');
      await exited;
    }
    expect(serverErr).not.toMatch(WARNING);
  });

  it('loads no AWS SDK, s3rver or DuckDB for infer and validate-model', async () => {
    // Act
    const validate = await modulesLoadedBy(['validate-model', referenceBundle], dir);
    const infer = await modulesLoadedBy(
      ['infer', '--model', referenceBundle, '--input', parityPairs, '--out', path.join(dir, 'lazy.jsonl')],
      dir,
    );
    // Assess: the log works (the engine was loaded), and none of the bucket-side packages were.
    for (const loaded of [validate, infer]) {
      expect(loaded.some((url) => url.includes('/node_modules/onnxruntime-'))).toBe(true);
      expect(loaded.filter((url) => /\/node_modules\/(@aws-sdk|@smithy|s3rver|@duckdb)\//.test(url))).toEqual([]);
    }
  });

  it('still loads the AWS SDK for a bucket command (the import log sees it)', async () => {
    // Act: status of a job on a server that is not there fails, but only after loading the SDK.
    const log = path.join(dir, 'imports-status.log');
    await npxFusebatch(['status', 'nothing', '--endpoint', 'http://127.0.0.1:9'], {
      IMPORT_LOG: log,
      NODE_OPTIONS: `--import ${importLog}`,
    }).catch(() => undefined);
    // Assess
    expect(await readFile(log, 'utf8')).toMatch(/\/node_modules\/@aws-sdk\/client-s3\//);
  });
});
