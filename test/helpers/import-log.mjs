// Loaded with `node --import`: appends the URL of every module the process resolves to the
// file named by IMPORT_LOG (the resolve hook runs on the loader thread, see import-log-hooks.mjs).
import { register } from 'node:module';

register('./import-log-hooks.mjs', import.meta.url, { data: { log: process.env.IMPORT_LOG } });
