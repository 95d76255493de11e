#!/usr/bin/env node
// The `fusebatch` bin: runs the TypeScript CLI through tsx's loader (no build step).
import { register } from 'tsx/esm/api';

register();
await import('./fusebatch-cli.ts');
