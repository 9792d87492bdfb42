// Stands in for a package that was left out of the bundle because no check ever runs its code
// (Azure AD authentication, Azure Key Vault). Any use of it — calling, constructing, or reading
// a member and calling that — throws one clear error instead of a TypeError from deep inside.
'use strict';

module.exports = function leftOut(name, feature) {
  const message = `${feature} (${name}) is not included in mssql-role-check`;
  function notIncluded() {
    throw new Error(message);
  }
  return new Proxy({}, {
    get(_, key) {
      // Interop helpers and promise checks probe these; answer "not there" rather than throw.
      if (typeof key === 'symbol' || key === '__esModule' || key === 'then') return undefined;
      return notIncluded;
    },
  });
};
