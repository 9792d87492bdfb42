// Pack one bundle into SEA binaries with pkg's simple SEA pipeline, called as a library so that
// the SEA configuration can be chosen per architecture (pkg's CLI passes none).
// usage: sea-pack.mjs BUNDLE.cjs OUT-PREFIX [--code-cache=x64|all|none] [--arch=x64,arm64] [--snapshot] [--node=FILE]
//   writes OUT-PREFIX-linux-<arch> for each arch. --node: another Node binary to pack (bench/levers.ts
//   packs a stripped one), for a single --arch.
//
// When the bundle has a probe chunk next to it (bundle.mjs), the chunk goes in as an asset, and
// on x64 also its code cache (made by running a check at build time); so does the serve chunk
// (the daemon), without a cache. So does the bundle itself
// when it has such a cache, run by the loader bundle.mjs writes (shims/main-loader.cjs) as the
// SEA main script.
//
// A V8 code cache is accepted only from the same V8 version, flags and architecture; both caches
// are made by this host's x64 Node, so the arm64 binary is packed without them (V8 would reject
// them at every start, and the SEA main script's rejection prints a warning).
import { createRequire } from 'node:module';
import { existsSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { basename, dirname, join, resolve } from 'node:path';

const require = createRequire(import.meta.url);
const { default: sea } = require('../node_modules/@yao-pkg/pkg/lib-es5/sea.js');

const args = process.argv.slice(2);
const [bundle, prefix] = args.filter((a) => !a.startsWith('--'));
const opt = (name, dflt) => args.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3) ?? dflt;
if (!bundle || !prefix) throw new Error('usage: sea-pack.mjs BUNDLE.cjs OUT-PREFIX [--code-cache=x64|all|none] [--arch=x64,arm64] [--snapshot] [--node=FILE]');
const codeCache = opt('code-cache', 'x64');
if (!['x64', 'all', 'none'].includes(codeCache)) throw new Error(`--code-cache=${codeCache}: expected x64, all or none`);
// A V8 startup snapshot instead of a code cache: measured (bench/LEVERS.md), not used.
const snapshot = args.includes('--snapshot');
if (opt('node') && opt('arch', 'x64,arm64').includes(',')) throw new Error('--node packs one Node binary: give one --arch');
const nodeVersion = process.env.NODE_VERSION;
if (!nodeVersion) throw new Error('NODE_VERSION is not set (build/toolchain.env)');

const chunk = join(dirname(resolve(bundle)), 'mssql-role-check.probe.cjs');
// With a warm cache of the command line (warm-caches.mjs), the SEA main script is the loader that
// runs the bundle from an asset with that cache; without one, the bundle is the main script.
const mainCache = join(dirname(resolve(bundle)), 'mssql-role-check.cache');
const viaLoader = existsSync(mainCache);
const loader = join(dirname(resolve(bundle)), 'mssql-role-check.loader.cjs');
const iconvChunk = join(dirname(resolve(bundle)), 'mssql-role-check.iconv.cjs');
const serveChunk = join(dirname(resolve(bundle)), 'mssql-role-check.serve.cjs');
const chunkCache = join(dirname(resolve(bundle)), 'mssql-role-check.probe.cache');
const hasChunk = existsSync(chunk);
const hasChunkCache = hasChunk && existsSync(chunkCache); // bundle.mjs --without=warm makes none
if (viaLoader || hasChunkCache) {
  // The caches must be the ones made for these very bundles (warm-caches.mjs records their sha256):
  // V8 checks little more than a source's length, and a cache of other code would run that code.
  const madeFor = JSON.parse(readFileSync(join(dirname(resolve(bundle)), 'mssql-role-check.caches.json'), 'utf8'));
  for (const file of [resolve(bundle), chunk]) {
    const sum = createHash('sha256').update(readFileSync(file)).digest('hex');
    if (madeFor[basename(file)] !== sum) throw new Error(`the code caches next to ${file} were made for another build of it: run make`);
  }
}

// One pkg run per architecture: a SEA blob is shared by all targets of a run.
for (const arch of opt('arch', 'x64,arm64').split(',')) {
  // pkg copies Node over its output in place, which fails (ETXTBSY) while the previous binary
  // runs; a new file renamed over it replaces it even then.
  const output = resolve(`${prefix}-linux-${arch}`);
  const part = `${output}.part`;
  const withCache = codeCache === 'all' || codeCache === arch;
  rmSync(part, { force: true });
  const assets = {
    ...(viaLoader ? { 'mssql-role-check.cjs': resolve(bundle), ...(withCache ? { 'mssql-role-check.cache': mainCache } : {}) } : {}),
    ...(hasChunk ? { 'mssql-role-check.probe.cjs': chunk, ...(withCache && hasChunkCache ? { 'mssql-role-check.probe.cache': chunkCache } : {}) } : {}),
    ...(existsSync(iconvChunk) ? { 'mssql-role-check.iconv.cjs': iconvChunk } : {}),
    ...(existsSync(serveChunk) ? { 'mssql-role-check.serve.cjs': serveChunk } : {}),
  };
  await sea(viaLoader ? loader : resolve(bundle), {
    ...(opt('node') ? { nodePath: resolve(opt('node')) } : {}),
    targets: [{ nodeRange: `node${nodeVersion}`, platform: 'linux', arch, output: part }],
    signature: false,
    seaConfig: {
      disableExperimentalSEAWarning: true,
      // NODE_OPTIONS is not the binary's business: it could make Node exit 9, print warnings
      // (a flag that changes V8's makes the code cache rejected, with a warning) or --require code.
      execArgvExtension: 'none',
      // Verify server certificates against the system trust store (OpenSSL's default file and
      // hashed directory, SSL_CERT_FILE / SSL_CERT_DIR), not Node's bundled CAs. OpenSSL looks a
      // CA up in the directory when a chain needs it, where tls.getCACertificates('system')
      // would read and parse every certificate there at each run (src/prober/tls.ts).
      // A heap that stays small: by default V8 lets a long-running process (serve) grow its young
      // generation to 16 MB semi-spaces and collects its old one late. The packed daemon with 50
      // targets under load (bench/serve.ts --soak), 28 MB of it live heap: 98 MB of RSS at start and
      // 230 MB after a minute by default; 104 and 156 MB with the old space's limit alone; 76 to
      // 109 MB with both flags (several runs), and a check costs the same. The limit is a ceiling far above what
      // either mode holds: reaching it ends the process (a failed check; systemd restarts the
      // daemon), never a pass.
      execArgv: ['--use-openssl-ca', '--max-semi-space-size=1', '--max-old-space-size=128'],
      useCodeCache: withCache && !snapshot,
      useSnapshot: snapshot,
      assets,
    },
  });
  renameSync(part, output);
}
