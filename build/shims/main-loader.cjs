// The SEA main script of the product build (bundled with chunk.cjs into
// dist/mssql-role-check.loader.cjs): it runs the command line, dist/mssql-role-check.cjs, packed
// as an asset, with the V8 code cache made by running a check at build time (warm-caches.mjs).
// SEA's own code cache (useCodeCache) is made by compiling without running, so it holds only what
// V8 compiles eagerly; this one holds every function a check ran. Without a cache asset (arm64:
// V8 takes a cache only from the same architecture) the command line compiles from source.
'use strict';

const { dirname } = require('node:path');
const loadChunk = require('./chunk.cjs');

try {
  loadChunk('mssql-role-check.cjs', dirname(process.execPath), 'mssql-role-check.cache');
} catch (err) {
  if (err?.code !== 'EINCOMPLETE') throw err;
  // Before the command line's own handlers: still one line and exit 1, never a stack trace.
  process.stderr.write(`mssql-role-check: internal error: ${err.message}\n`);
  process.exit(1);
}
