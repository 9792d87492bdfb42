// node:crypto for tedious, loaded on first use. tedious requires node:crypto when it loads, and
// a check (without TLS) uses nothing of it but randomBytes(16) for the PRELOGIN trace id, a
// debugging aid; loading node:crypto for that costs ~5 ms of CPU and ~3.4 MB of RSS per check
// (it sets up all of Node's crypto modules). So synchronous randomBytes reads the kernel's
// CSPRNG (/dev/urandom) directly, and any other use (NTLM's HMAC and MD4, randomBytes with a
// callback, or no /dev/urandom to read) loads node:crypto and answers from it.
'use strict';

const { openSync, readSync, closeSync } = require('node:fs');
const lazyModule = require('./lazy-module.cjs');

module.exports = function lazyCrypto(load) {
  let crypto;
  const real = () => (crypto ??= load());

  function randomBytes(size, callback) {
    if (callback !== undefined || crypto !== undefined || !Number.isSafeInteger(size) || size < 0) return real().randomBytes(size, callback);
    const bytes = Buffer.alloc(size);
    let fd;
    try {
      fd = openSync('/dev/urandom', 'r');
      for (let done = 0; done < size;) {
        const n = readSync(fd, bytes, done, size - done, null);
        if (n <= 0) throw new Error('short read from /dev/urandom');
        done += n;
      }
      return bytes;
    } catch {
      return real().randomBytes(size);
    } finally {
      if (fd !== undefined) closeSync(fd);
    }
  }

  const rest = lazyModule(real);
  const proxy = new Proxy({}, {
    get(_, key) {
      if (key === 'randomBytes') return randomBytes;
      if (key === 'default') return proxy;
      return rest[key];
    },
  });
  return proxy;
};
