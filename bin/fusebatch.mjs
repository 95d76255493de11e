#!/usr/bin/env node
// The `fusebatch` bin: runs the TypeScript CLI through tsx's loader (no build step).
import { register } from 'tsx/esm/api';

// The AWS SDK warns on Node < 22 that its releases after January 2027 will need Node 22. The
// SDK this CLI runs is the one package-lock.json pins, so the warning carries no news for a
// CLI user (the README says which Node versions fusebatch supports). The SDK's own switch;
// every other warning stays visible.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

register();
await import('./fusebatch-cli.ts');
