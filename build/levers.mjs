// Start-up levers for the bundle, as an esbuild plugin (used by bundle.mjs; tests bundle small
// entries with it). bench/LEVERS.md has the figures for each; bundle.mjs --without=LEVER turns
// one off to measure it again.
//   leave-out   packages a check never runs (Azure AD auth, Azure Key Vault and their ~2 MB of
//               dependencies) are replaced by a stub that throws "... is not included".
//   lazy        tls, dgram and dns, which tedious loads at start-up, load on first use instead (a
//               check never calls tedious's dns.lookup, which it reads on every connect: names are
//               resolved and the Browser asked by src/prober/resolve.ts and browser.ts); so
//               does util, which tedious's interop helper would otherwise walk member by member,
//               and crypto, but for randomBytes, which reads /dev/urandom (shims/crypto-lazy.cjs).
//   trim        js-joda (~465 KB), which tedious only needs to encode date parameters, is
//               replaced by the few lines of it tedious calls (shims/js-joda-mini.cjs).
//   native      bl's copy of Node's streams (readable-stream) is Node's own stream module, and
//               iconv-lite's safer-buffer (which walks every member of node:buffer) is Buffer.
//   iconv       iconv-lite (~550 KB: tedious decodes varchar in a collation's code page with it;
//               the facts query returns no varchar from SQL Server) loads on first use.
//   one-batch   tedious's SET-options batch after the login is not sent: the facts query is the
//               session's only request (one round trip less; see SKIP_INITIAL_SQL).
import { dirname, join } from 'node:path';
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';

export const LEVERS = ['leave-out', 'lazy', 'trim', 'native', 'iconv', 'one-batch'];

const shims = join(dirname(fileURLToPath(import.meta.url)), 'shims');
const shim = (file) => JSON.stringify(join(shims, file));
const fromTedious = (importer) => /node_modules\/tedious\/lib\//.test(importer);

// Packages no check executes. tedious requires them at load time for authentication methods and
// key stores this tool does not offer.
const LEFT_OUT = {
  '@azure/identity': 'Azure Active Directory authentication',
  '@azure/core-auth': 'Azure Active Directory authentication',
  '@azure/keyvault-keys': 'Always Encrypted with Azure Key Vault',
};
/**
 * tedious sends a batch of SET options (ANSI_NULLS, QUOTED_IDENTIFIER, TEXTSIZE, language, ...)
 * after every login, and has no option to leave it out. Without it the session has the server's
 * defaults (those of a client that asks for nothing, as changed by sp_configure 'user options',
 * and the login's default language). The facts query depends on none of them: it compares columns
 * with columns and numbers, quotes no identifier, computes nothing and reads no LOB; a DONE's
 * count is not needed (NOCOUNT). The one line that sends the batch is removed, and the bundle step
 * fails if a tedious release words that line differently.
 */
export const SKIP_INITIAL_SQL = {
  file: /node_modules\/tedious\/lib\/connection\.js$/,
  line: 'await this.performLoggedInSendingInitialSql(signal);',
  with: '/* mssql-role-check: no SET-options batch (build/levers.mjs, one-batch) */',
};

/** If any of these still reaches the bundle, a dependency found another way to pull it in. */
export const MUST_NOT_BUNDLE = /node_modules\/(@azure\/|@typespec\/|jsonwebtoken\/|open\/|https?-proxy-agent\/)/;

/**
 * @param {(lever: string) => boolean} use which levers are on
 * @returns {import('esbuild').Plugin}
 */
export function leversPlugin(use = () => true) {
  return {
    name: 'levers',
    setup(b) {
      // A virtual module: its source is carried in pluginData, resolved from `resolveDir`.
      const virtual = (path, contents, resolveDir = shims) => ({ path, namespace: 'lever', pluginData: { contents, resolveDir } });
      b.onLoad({ filter: /.*/, namespace: 'lever' }, ({ pluginData }) => ({ loader: 'js', ...pluginData }));

      if (use('leave-out')) {
        b.onResolve({ filter: /^@azure\/(identity|core-auth|keyvault-keys)$/ }, ({ path }) =>
          virtual(`left-out:${path}`, `module.exports = require(${shim('left-out.cjs')})(${JSON.stringify(path)}, ${JSON.stringify(LEFT_OUT[path])});`));
      }
      if (use('lazy')) {
        b.onResolve({ filter: /^(tls|dgram|util|dns)$/ }, ({ path, importer }) => fromTedious(importer)
          ? virtual(`lazy:${path}`, `module.exports = require(${shim('lazy-module.cjs')})(() => require('node:${path}')${path === 'dns' ? ", ['lookup']" : ''});`)
          : undefined);
        // js-md4 is tedious's (NTLM), and takes node:crypto too.
        b.onResolve({ filter: /^crypto$/ }, ({ path, importer }) => fromTedious(importer) || /node_modules\/js-md4\//.test(importer)
          ? virtual(`lazy:${path}`, `module.exports = require(${shim('crypto-lazy.cjs')})(() => require('node:crypto'));`)
          : undefined);
      }
      if (use('iconv')) {
        b.onResolve({ filter: /^iconv-lite$/ }, ({ path, importer }) => fromTedious(importer)
          ? virtual(`lazy:${path}`, `module.exports = require(${shim('lazy-module.cjs')})(() => require(${JSON.stringify(path)}));`, dirname(importer))
          : undefined);
      }
      if (use('one-batch')) {
        b.onLoad({ filter: SKIP_INITIAL_SQL.file }, async ({ path }) => {
          const text = await readFile(path, 'utf8');
          const n = text.split(SKIP_INITIAL_SQL.line).length - 1;
          if (n !== 1) throw new Error(`one-batch: expected the line "${SKIP_INITIAL_SQL.line}" once in ${path}, found it ${n} times; tedious changed`);
          return { loader: 'js', contents: text.replace(SKIP_INITIAL_SQL.line, SKIP_INITIAL_SQL.with) };
        });
      }
      if (use('trim')) {
        b.onResolve({ filter: /^@js-joda\/core$/ }, ({ importer }) =>
          fromTedious(importer) ? { path: join(shims, 'js-joda-mini.cjs') } : undefined);
      }
      if (use('native')) {
        // bl (tedious's buffer list) wants Duplex from readable-stream 4, a copy of Node 18's streams.
        b.onResolve({ filter: /^readable-stream$/ }, ({ importer }) =>
          /node_modules\/bl\//.test(importer) ? { path: 'node:stream', external: true } : undefined);
        // iconv-lite takes only .Buffer from safer-buffer, a guard for Node < 5.10.
        b.onResolve({ filter: /^safer-buffer$/ }, ({ importer }) =>
          /node_modules\/iconv-lite\//.test(importer) ? virtual('native:safer-buffer', "module.exports = { Buffer: require('node:buffer').Buffer };") : undefined);
      }
    },
  };
}
