// Loads a chunk of the bundle that runs only on some paths, so that others never read it:
//   mssql-role-check.probe.cjs   src/prober and the SQL Server driver, loaded when a check runs
//                                (compiled from a V8 code cache made by running a check at build
//                                time: build/warm-caches.mjs);
//   mssql-role-check.iconv.cjs   iconv-lite, loaded when the server sends text in a code page.
// In the SEA binary chunks and caches are assets; under plain node, files next to the bundle.
'use strict';

/**
 * @param {string} name the chunk's file (asset) name
 * @param {string} dir where it is under plain node (the loading bundle's __dirname)
 * @param {string} [cacheName] its V8 code cache, if it has one
 */
module.exports = function loadChunk(name, dir, cacheName) {
  const vm = require('node:vm');
  let source;
  let cachedData;
  const sea = require('node:sea');
  try {
    if (sea.isSea()) {
      source = Buffer.from(sea.getRawAsset(name)).toString('latin1'); // esbuild writes ASCII
      // Only the x64 binary carries caches: V8 takes one only from the same architecture.
      if (cacheName && sea.getAssetKeys().includes(cacheName)) cachedData = Buffer.from(sea.getRawAsset(cacheName));
    } else {
      const { readFileSync, existsSync } = require('node:fs');
      const { join } = require('node:path');
      source = readFileSync(join(dir, name), 'latin1');
      if (cacheName && existsSync(join(dir, cacheName))) cachedData = readFileSync(join(dir, cacheName));
    }
  } catch (err) {
    // A broken build or install, not a server's answer: main.ts reports it as an internal error.
    throw Object.assign(new Error(`this mssql-role-check lacks ${name} (${err && err.message})`), { code: 'EINCOMPLETE' });
  }
  // A cache V8 does not accept (another Node) is ignored: the chunk compiles from source.
  const script = new vm.Script(`(function (exports, require, module, __dirname) {${source}\n})`, { filename: name, cachedData });
  const module = { exports: {} };
  script.runInThisContext()(module.exports, require, module, dir);
  return module.exports;
};
