// The SEA main script of the product build: it runs the command line (dist/mssql-role-check.cjs),
// packed as an asset, compiled from a V8 code cache made by running a check at build time
// (warm-caches.mjs). SEA's own code cache (useCodeCache) is made by compiling without running, so it
// holds only the top level of each function V8 compiles eagerly; this one holds every function a
// check ran. Without a cache asset (arm64: V8 takes a cache only from the same architecture) the
// command line compiles from source.
// It needs Node's built-ins only: a SEA main script cannot require files.
'use strict';

const MAIN = 'mssql-role-check.cjs';
const CACHE = 'mssql-role-check.cache';

/** The command line as a compiled script: the same wrapper for the build's warm run and the binary. */
function compileMain(source, cachedData) {
  const { Script } = require('node:vm');
  return new Script(`(function (exports, require, module, __filename, __dirname) {${source}\n})`, { filename: MAIN, cachedData });
}

function runMain(script, req, filename, dirname) {
  const module = { exports: {} };
  script.runInThisContext()(module.exports, req, module, filename, dirname);
}

module.exports = { MAIN, CACHE, compileMain, runMain };

const sea = require('node:sea');
if (sea.isSea()) {
  let script;
  try {
    const source = Buffer.from(sea.getRawAsset(MAIN)).toString('latin1'); // esbuild writes ASCII
    const cachedData = sea.getAssetKeys().includes(CACHE) ? Buffer.from(sea.getRawAsset(CACHE)) : undefined;
    script = compileMain(source, cachedData);
  } catch (err) {
    // Before the command line's own handlers: still one line and exit 1, never a stack trace.
    process.stderr.write(`mssql-role-check: internal error: this build cannot start (${String(err && err.message).split('\n', 1)[0]})\n`);
    process.exit(1);
  }
  runMain(script, require, process.execPath, require('node:path').dirname(process.execPath));
}
