// Loads the engine worker from TypeScript source through tsx (tests, the CLI); bundles ship engine-worker.mjs instead.
import { register } from 'tsx/esm/api';

register();
await import('./engine-worker.ts');
