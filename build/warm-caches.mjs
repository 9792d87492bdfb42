// Makes the V8 code caches of the command line and of the probe chunk (bundle.mjs) by running
// real checks, under plain node, against sqlsim (the tests' simulated SQL Server) on loopback: one
// with --encrypt off, then one with the default TLS, in the same process (V8 compiles each source
// once per process, so the second run adds what only TLS runs to the same functions). Each cache
// then holds the bytecode of every function either kind of check runs, so that the binary does not
// compile them at each start. Both are compiled as the binary compiles them: by shims/chunk.cjs.
// usage: warm-caches.mjs BUNDLE.cjs [--no-main]   (writes both caches next to BUNDLE; --no-main:
//        the chunk's only, for bench/levers.ts)
// Run it with no NODE_OPTIONS: V8 takes a cache only under the flags it was made with.
import vm from 'node:vm';
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { createRequire } from 'node:module';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join, resolve } from 'node:path';
import { createHash } from 'node:crypto';
import { fileURLToPath } from 'node:url';

const CHUNK = 'mssql-role-check.probe.cjs';
const CACHES_MADE_FOR = 'mssql-role-check.caches.json';
const bundle = resolve(process.argv[2] ?? 'dist/mssql-role-check.cjs');
const withMain = !process.argv.includes('--no-main');
const cacheFile = join(dirname(bundle), 'mssql-role-check.probe.cache');
const root = fileURLToPath(new URL('..', import.meta.url));
const require = createRequire(import.meta.url);
const loadChunk = require('./shims/chunk.cjs');
const MAIN = basename(bundle);
const mainCacheFile = join(dirname(bundle), 'mssql-role-check.cache');
rmSync(cacheFile, { force: true });
rmSync(mainCacheFile, { force: true });
rmSync(join(dirname(bundle), CACHES_MADE_FOR), { force: true });

// principal.json: appdb is the mirroring PRINCIPAL, so the check runs to a pass.
const scenario = JSON.parse(readFileSync(join(root, 'test/sqlsim/scenarios/principal.json'), 'utf8'));
const login = scenario.logins.find((l) => l.name === 'monitor');
const tmp = mkdtempSync(join(tmpdir(), 'warm-caches-'));
// sqlsim offers TLS, as SQL Server does by default: the first check declines it (--encrypt off), the
// second asks for it (the default --encrypt on); sqlsim makes a CA and its certificate there.
const certDir = join(tmp, 'certs');
const sim = spawn(process.execPath, [join(root, 'test/sqlsim/cli.ts'), '--scenario', 'principal', '--control', 'stdin',
  '--encryption', 'off', '--tls-dir', certDir],
  { stdio: ['pipe', 'pipe', 'inherit'] });
const listening = await new Promise((ok, fail) => {
  const timer = setTimeout(() => fail(new Error('warm-caches: sqlsim did not start within 20 s')), 20_000);
  createInterface({ input: sim.stdout }).once('line', (line) => (clearTimeout(timer), ok(line)));
  sim.once('exit', (code) => fail(new Error(`warm-caches: sqlsim exited (${code})`)));
});
const [, host, port] = /^listening (\S+):(\d+)$/.exec(listening) ?? [];
if (!port) throw new Error(`warm-caches: sqlsim said ${listening}`);

const passwordFile = join(tmp, 'password');
writeFileSync(passwordFile, `${login.password}\n`, { mode: 0o600 });

// The loader (shims/chunk.cjs) compiles both with vm.Script: keep hold of the first of each (the
// second run's compiles return the same functions, from V8's compilation cache).
const scripts = {};
vm.Script = class extends vm.Script {
  constructor(code, options) {
    super(code, options);
    if (options?.filename === CHUNK || options?.filename === MAIN) scripts[options.filename] ??= this;
  }
};

const common = ['--host', host, '--port', port, '--user', login.name, '--password-file', passwordFile,
  '--database', 'appdb', '--role', 'primary', '--timeout', '20'];
const runs = [
  [...common, '--encrypt', 'off'], // as make bench's row (a) runs it
  [...common, '--ca-file', join(certDir, 'ca.pem')], // the default, TLS with the certificate verified
];
const exit = process.exit;
let passed = 0;
function run(argv) {
  process.argv = [process.execPath, bundle, ...argv];
  loadChunk(MAIN, dirname(bundle));
}
// Each check ends with process.exit(): a pass starts the next run instead; the last one, or a
// failure, exits, and the caches are written on the way out. A check ends by returning from its
// exit call only here, once, after its pass is written.
process.exit = (code) => {
  if (code === 0 && ++passed < runs.length) return void setImmediate(() => run(runs[passed]));
  exit.call(process, code);
};
process.on('exit', (code) => {
  sim.kill();
  rmSync(tmp, { recursive: true, force: true });
  const chunk = scripts[CHUNK];
  if (code !== 0 || !chunk || passed !== runs.length) {
    process.stderr.write(`warm-caches: check ${passed + 1} of ${runs.length} did not pass against sqlsim (exit ${code}${chunk ? '' : ', chunk not loaded'})\n`);
    process.exitCode = 1;
    return;
  }
  writeFileSync(cacheFile, chunk.createCachedData());
  if (withMain) writeFileSync(mainCacheFile, scripts[MAIN].createCachedData());
  // V8 checks little more than a source's length against a cache: sea-pack.mjs packs a cache only
  // with the very bundle it was made from.
  const sha256 = (file) => createHash('sha256').update(readFileSync(file)).digest('hex');
  writeFileSync(join(dirname(bundle), CACHES_MADE_FOR), JSON.stringify({ [basename(bundle)]: sha256(bundle), [CHUNK]: sha256(join(dirname(bundle), CHUNK)) }) + '\n');
});
run(runs[0]);
