// Loads the probe chunk: src/prober and the SQL Server driver, bundled apart from the command
// line (build/bundle.mjs), so that --help, --version and a bad option never read the driver, and
// a check compiles it from a V8 code cache made by running a check at build time.
// In the SEA binary the chunk and its cache are assets; under plain node, files next to the bundle.
'use strict';

const CHUNK = 'mssql-role-check.probe.cjs';
const CACHE = 'mssql-role-check.probe.cache';

module.exports = function loadProbeChunk(dir) {
  const vm = require('node:vm');
  let source;
  let cachedData;
  const sea = require('node:sea');
  if (sea.isSea()) {
    source = Buffer.from(sea.getRawAsset(CHUNK)).toString('latin1'); // esbuild writes ASCII
    // Only the x64 binary carries a cache: V8 takes one only from the same architecture.
    if (sea.getAssetKeys().includes(CACHE)) cachedData = Buffer.from(sea.getRawAsset(CACHE));
  } else {
    const { readFileSync, existsSync } = require('node:fs');
    const { join } = require('node:path');
    source = readFileSync(join(dir, CHUNK), 'latin1');
    if (existsSync(join(dir, CACHE))) cachedData = readFileSync(join(dir, CACHE));
  }
  // A cache V8 does not accept (another Node) is ignored: the chunk compiles from source.
  const script = new vm.Script(`(function (exports, require, module) {${source}\n})`, { filename: CHUNK, cachedData });
  const module = { exports: {} };
  script.runInThisContext()(module.exports, require, module);
  return module.exports;
};
