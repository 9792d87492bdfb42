// make bench [N=20]: what one check costs, side by side with the floor and the alternatives.
//   (a) the x64 binary: a full --role primary check against sqlsim on loopback, --encrypt off
//   (t) the same check with the default TLS (--encrypt on: TLS for the whole session, the
//       certificate verified against the system trust store, here a scratch SSL_CERT_DIR that
//       holds the test CA, looked up by hash as in /etc/ssl/certs), against a second sqlsim that
//       has a certificate, as SQL Server's default (encryption offered, not forced)
//   (b) the same binary: --version
//   (c) the floor: a hello world packed the same way, with the same embedded Node
//   (d) FreeTDS tsql running the same catalog query (the C floor)
//   (e) Python 3 + Debian's python3-pymssql running the same query
//   (f) the least any Node program can spend on this conversation: (a)'s own TDS requests,
//       recorded, replayed by a packed node:net script that waits for each answer (tds-replay.cjs)
//   (g) (c) with the deadline's killer armed and disarmed, as every check does (hello-deadline.ts)
//   (h) (c) with the deadline's interrupter (a worker thread) started at once, which a check does
//       only when it runs long (src/watchdog.ts): what starting it late saves
// Each is run N times, interleaved; the table gives min / median / max of wall time, CPU time
// (user + sys) and peak RSS. sqlsim runs in a process of its own, so its work is not counted in
// CPU or RSS (it is in wall time: it shares the machine, as a real server would not).
//
// usage: node bench/run.ts [--runs N]    (needs the binaries: make bench builds them first)
import { mkdtempSync, mkdirSync, copyFileSync, writeFileSync, rmSync, statSync, existsSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnSync, execFile } from 'node:child_process';
import { createServer, connect, type AddressInfo } from 'node:net';
import { parseArgs, promisify } from 'node:util';
import { factsSql } from '../src/prober/facts-query.ts';
import {
  ROOT, PYTHON, CLEAN_ENV, measure, summarize, table, coldCopy, packedScript, startSim,
  statsDelta, machine, type Case, type Summary, type SimStats,
} from './lib.ts';

const { values } = parseArgs({ options: { runs: { type: 'string', default: process.env.N || '20' } } });
const runs = Number(values.runs);
if (!Number.isInteger(runs) || runs < 1) throw new Error(`--runs must be a positive whole number, not ${values.runs}`);

const BUILT = join(ROOT, 'dist/mssql-role-check-linux-x64');
if (!existsSync(BUILT)) throw new Error(`${BUILT} is missing: run make first`);
const TSQL = '/usr/bin/tsql';
const SCENARIO = 'principal'; // test/sqlsim/scenarios/principal.json: appdb, mirroring PRINCIPAL
const DATABASE = 'appdb';
const USER = 'monitor';
// A throwaway password of the simulated server, read from its scenario file.
const scenario = JSON.parse(readFileSync(join(ROOT, `test/sqlsim/scenarios/${SCENARIO}.json`), 'utf8')) as { logins: { name: string; password: string }[] };
const PASSWORD = scenario.logins.find((l) => l.name === USER)!.password;

// The binaries run from copies read back from disk (see coldCopy), in dist/bench/.
const BIN = coldCopy(BUILT, join(ROOT, 'dist/bench'));
const hello = coldCopy(packedScript('hello'), join(ROOT, 'dist/bench'));
const replay = coldCopy(packedScript('tds-replay'), join(ROOT, 'dist/bench'));
const helloDeadline = coldCopy(packedScript('hello-deadline'), join(ROOT, 'dist/bench'));

/** What a client sends to the server, recorded by a loopback proxy in front of it while `run` runs. */
async function recordClient(host: string, port: number, run: (proxyPort: number) => Promise<void>): Promise<Buffer> {
  const chunks: Buffer[] = [];
  const proxy = createServer((client) => {
    const server = connect({ host, port });
    client.on('data', (d: Buffer) => (chunks.push(d), server.write(d)));
    server.on('data', (d: Buffer) => client.write(d));
    client.on('close', () => server.destroy());
    server.on('close', () => client.destroy());
    client.on('error', () => server.destroy());
    server.on('error', () => client.destroy());
  });
  await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
  try {
    await run((proxy.address() as AddressInfo).port);
  } finally {
    proxy.close();
  }
  return Buffer.concat(chunks);
}

const tmp = mkdtempSync(join(tmpdir(), 'bench-'));
// It holds the simulated server's throwaway password and (f)'s recording: gone even when stopped.
for (const sig of ['SIGINT', 'SIGTERM'] as const) process.on(sig, () => (rmSync(tmp, { recursive: true, force: true }), process.exit(1)));
const sim = await startSim(SCENARIO);
// (t)'s server: the certificates and the hashed store are made in tmp
const certDir = join(tmp, 'certs');
const storeDir = join(tmp, 'store');
const tlsSim = await startSim(SCENARIO, ['--encryption', 'off', '--tls-dir', certDir]);
try {
  mkdirSync(storeDir);
  copyFileSync(join(certDir, 'ca.pem'), join(storeDir, 'bench-ca.pem'));
  spawnSync('openssl', ['rehash', storeDir], { stdio: 'ignore' });
  const passwordFile = join(tmp, 'password');
  writeFileSync(passwordFile, PASSWORD + '\n', { mode: 0o600 });
  const port = String(sim.port);
  // The product's own query. tsql cannot send parameters and pymssql quotes them into the text,
  // so for them the database name is in the text; the server does the same work.
  const inlineSql = factsSql(1).replaceAll('@db0', `N'${DATABASE}'`);
  const pySql = factsSql(1).replaceAll('@db0', '%(db)s');

  // (f)'s script: what (a) sends, the password inside it obfuscated as TDS does (a throwaway of
  // the simulated server), in a file only this user reads, removed with tmp.
  const checkArgs = (p: number) => ['--host', sim.host, '--port', String(p), '--user', USER, '--password-file', passwordFile, '--database', DATABASE, '--role', 'primary', '--encrypt', 'off'];
  const tlsArgs = ['--host', tlsSim.host, '--port', String(tlsSim.port), '--user', USER, '--password-file', passwordFile, '--database', DATABASE, '--role', 'primary'];
  const TLS_ENV = { ...CLEAN_ENV, SSL_CERT_DIR: storeDir };
  const requests = join(tmp, 'requests.tds');
  writeFileSync(requests, await recordClient(sim.host, sim.port, (p) => promisify(execFile)(BIN, checkArgs(p), { env: CLEAN_ENV }).then(() => undefined)), { mode: 0o600 });

  const cases: Record<'a' | 't' | 'b' | 'c' | 'd' | 'e' | 'f' | 'g' | 'h' | 'harness', Case> = {
    harness: { name: 'harness', argv: ['/bin/true'] },
    c: { name: 'c', argv: [hello] },
    b: { name: 'b', argv: [BIN, '--version'] },
    a: { name: 'a', argv: [BIN, ...checkArgs(sim.port)] },
    t: { name: 't', argv: [BIN, ...tlsArgs], env: TLS_ENV },
    // tsql reads the password from stdin when it has no terminal (measure.py detaches it from
    // any): the password stays out of argv. TDSVER as the binary speaks (TDS 7.4).
    d: { name: 'd', argv: [TSQL, '-H', sim.host, '-p', port, '-U', USER, '-o', 'q'], env: { ...CLEAN_ENV, TDSVER: '7.4', FREETDSCONF: '/dev/null' }, stdin: `${PASSWORD}\n${inlineSql}\ngo\nexit\n` },
    e: { name: 'e', argv: [PYTHON, join(ROOT, 'bench/pymssql_check.py'), sim.host, port, USER, DATABASE], env: { ...CLEAN_ENV, MSSQL_PASSWORD: PASSWORD }, stdin: pySql },
    f: { name: 'f', argv: [replay, sim.host, port, requests] },
    g: { name: 'g', argv: [helloDeadline, 'killer'] },
    h: { name: 'h', argv: [helloDeadline, 'interrupter'] },
  };

  // One run of each client first, outside the measurement: it must give the right answer, and
  // sqlsim's counters around it are the protocol cost of one check.
  const perCheck: Record<string, SimStats> = {};
  for (const k of ['a', 't', 'd', 'e', 'f'] as const) {
    const c = cases[k];
    const server = k === 't' ? tlsSim : sim;
    const before = await server.stats();
    const r = spawnSync(c.argv[0], [...c.argv.slice(1), ...(k === 'a' || k === 't' ? ['--json'] : [])], { input: c.stdin, encoding: 'utf8', env: c.env ?? CLEAN_ENV, timeout: 30_000 });
    perCheck[k] = statsDelta(before, await server.stats());
    const right = k === 'a' || k === 't' ? /"verdict":"pass"/.test(r.stdout) : k === 'f' ? perCheck.f.rpcs === 1 : /PRINCIPAL/.test(r.stdout);
    if (r.status !== 0 || !right) throw new Error(`(${k}) did not run the check right (exit ${r.status}):\n${r.stdout}${r.stderr}`);
  }

  process.stderr.write(`bench: ${runs} runs of each case, interleaved...\n`);
  const results = measure(Object.values(cases), runs);
  const s = Object.fromEntries(Object.entries(results).map(([k, v]) => [k, summarize(v)])) as Record<string, Summary>;

  const ratio = (x: string, y: string) =>
    `${(s[x].wall.median / s[y].wall.median).toFixed(2)} wall, ${(s[x].cpu.median / s[y].cpu.median).toFixed(2)} CPU, ${(s[x].rssMb.median / s[y].rssMb.median).toFixed(2)} RSS`;
  const mb = (file: string) => (statSync(file).size / 2 ** 20).toFixed(1);
  // Each client message gets one answer: messages sent = round trips (PRELOGIN, LOGIN7, then one
  // per SQL batch or RPC; with TLS, the handshake's). A message may take more than one TDS packet,
  // sent back to back (the check's facts query takes two).
  const protocol = (k: string) => {
    const p = perCheck[k];
    return `${p.messagesIn} round trips (login ${p.logins}, SQL batches ${p.batches}, RPCs ${p.rpcs}), ${p.packetsIn} packets and ${p.bytesIn} bytes sent, ${p.bytesOut} bytes received`;
  };

  const out = [
    `mssql-role-check bench — ${new Date().toISOString().slice(0, 10)}, ${machine()}, N=${runs} (medians in ratios)`,
    '',
    table([
      { label: '(a) check --role primary, sqlsim on loopback, --encrypt off', summary: s.a },
      { label: '(t) the same check with the default TLS (certificate verified)', summary: s.t },
      { label: '(b) --version', summary: s.b },
      { label: '(c) floor: hello world, same SEA packing', summary: s.c },
      { label: '(d) FreeTDS tsql, same query', summary: s.d },
      { label: '(e) Python 3 + pymssql, same query', summary: s.e },
      { label: '(f) (a)\'s TDS requests replayed by node:net, same SEA packing', summary: s.f },
      { label: '(g) (c) + the deadline\'s killer (a /bin/sh child), as a check arms it', summary: s.g },
      { label: '(h) (c) + the deadline\'s interrupter (a worker thread) started at once', summary: s.h },
      { label: 'harness alone (/usr/bin/time /bin/true)', summary: s.harness },
    ]),
    '',
    `binary: dist/mssql-role-check-linux-x64 ${mb(BUILT)} MiB, dist/mssql-role-check-linux-arm64 ${mb(join(ROOT, 'dist/mssql-role-check-linux-arm64'))} MiB; floor ${mb(hello)} MiB`,
    `a/c: ${ratio('a', 'c')}   (targets: wall ≤ 1.3, RSS ≤ 1.3)`,
    `t/c: ${ratio('t', 'c')}   (the default, TLS)`,
    `t−a: ${(s.t.wall.median - s.a.wall.median).toFixed(1)} ms wall, ${(s.t.cpu.median - s.a.cpu.median).toFixed(1)} ms CPU, ${(s.t.rssMb.median - s.a.rssMb.median).toFixed(1)} MB RSS   (what the default TLS costs per check, medians)`,
    `b/c: ${ratio('b', 'c')}   (target: wall ≤ 1.1)`,
    `a/d: ${ratio('a', 'd')}`,
    `a/e: ${ratio('a', 'e')}   (target: wall < 1)`,
    `f/c: ${ratio('f', 'c')}   (the floor of any Node client: start-up, node:net and the round trips)`,
    `a/f: ${ratio('a', 'f')}   (what the driver, the options and the verdict add to that)`,
    `g/c: ${ratio('g', 'c')}   (the killer, in every check)`,
    `h/c: ${ratio('h', 'c')}   (a worker thread at start-up, which a check does not pay)`,
    `per check, as sqlsim counted: (a) ${protocol('a')}`,
    `                              (t) ${protocol('t')}, TLS handshakes ${perCheck.t.tlsHandshakes}`,
    `                              (d) ${protocol('d')}`,
    `                              (e) ${protocol('e')}`,
    `                              (f) ${protocol('f')}`,
  ];
  process.stdout.write(out.join('\n') + '\n');
} finally {
  await sim.stop();
  await tlsSim.stop();
  rmSync(tmp, { recursive: true, force: true });
  for (const copy of [BIN, hello, replay, helloDeadline]) rmSync(copy, { force: true });
}
