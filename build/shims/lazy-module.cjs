// Defers loading a module until one of its members is first read. Used for Node built-ins that
// tedious requires at load time but a check needs only on some paths (tls only with encryption,
// dgram only for SQL Server Browser). Presents itself as an ES module so that Babel's interop
// helpers in tedious use it as it is instead of copying (and so loading) every member.
'use strict';

module.exports = function lazyModule(load) {
  let loaded;
  const proxy = new Proxy({}, {
    get(_, key) {
      if (key === '__esModule') return true;
      if (key === 'default') return proxy;
      loaded ??= load();
      return loaded[key];
    },
  });
  return proxy;
};
