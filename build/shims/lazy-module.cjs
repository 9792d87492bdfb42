// Defers loading a module until one of its members is first read. Used for what tedious requires
// at load time but a check needs only on some paths (tls only with encryption, dgram only for SQL
// Server Browser, iconv-lite only for text in a code page). Presents itself as an ES module so that Babel's interop
// helpers in tedious use it as it is instead of copying (and so loading) every member.
// `callLater` names functions that are read early but called only on some paths (tedious reads
// dns.lookup on every connect, and calls it only without a connector): reading one gives a
// stand-in that loads the module when it is called.
'use strict';

module.exports = function lazyModule(load, callLater = []) {
  let loaded;
  const later = Object.fromEntries(callLater.map((name) => [name, function (...args) {
    loaded ??= load();
    return loaded[name].apply(this, args);
  }]));
  const proxy = new Proxy({}, {
    get(_, key) {
      if (key === '__esModule') return true;
      if (key === 'default') return proxy;
      if (!loaded && Object.hasOwn(later, key)) return later[key];
      loaded ??= load();
      return loaded[key];
    },
  });
  return proxy;
};
