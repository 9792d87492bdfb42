// Makes the V8 code caches of the command line and of the probe chunk (bundle.mjs) by running one
// real check, under plain node, against sqlsim (the tests' simulated SQL Server) on loopback. Each
// cache then holds the bytecode of every function a check runs, so that the binary does not
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
// TLS, as a check runs by default (--encrypt on): sqlsim makes a CA and its certificate there.
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

// The loader (shims/chunk.cjs) compiles both with vm.Script: keep hold of them.
const scripts = {};
vm.Script = class extends vm.Script {
  constructor(code, options) {
    super(code, options);
    if (options?.filename === CHUNK || options?.filename === MAIN) scripts[options.filename] = this;
  }
};

// The check ends with process.exit(): the cache is written on the way out.
process.on('exit', (code) => {
  sim.kill();
  rmSync(tmp, { recursive: true, force: true });
  const chunk = scripts[CHUNK];
  if (code !== 0 || !chunk) {
    process.stderr.write(`warm-caches: the check did not pass against sqlsim (exit ${code}${chunk ? '' : ', chunk not loaded'})\n`);
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
process.argv = [process.execPath, bundle, '--host', host, '--port', port, '--user', login.name,
  '--password-file', passwordFile, '--database', 'appdb', '--role', 'primary', '--timeout', '20',
  '--ca-file', join(certDir, 'ca.pem')];
loadChunk(MAIN, dirname(bundle));
