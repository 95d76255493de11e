// Loaded with `node --import`: appends the URL of every module the process resolves to the
// file named by IMPORT_LOG: ESM through a resolve hook (it runs on the loader thread, see
// import-log-hooks.mjs), CommonJS (require, createRequire: how the cpu engine loads
// onnxruntime-node) through Module._resolveFilename, which ESM hooks do not see.
import { appendFileSync } from 'node:fs';
import Module, { register } from 'node:module';
import path from 'node:path';
import { pathToFileURL } from 'node:url';

const log = process.env.IMPORT_LOG;
register('./import-log-hooks.mjs', import.meta.url, { data: { log } });
const resolveFilename = Module._resolveFilename;
Module._resolveFilename = function (...args) {
  const resolved = resolveFilename.apply(this, args);
  if (log && path.isAbsolute(resolved)) appendFileSync(log, `${pathToFileURL(resolved).href}\n`);
  return resolved;
};
