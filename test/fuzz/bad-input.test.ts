// Bad-input table: generated hostile values on the command line and in the config file. Every
// case must end in exit 1 with exactly one line on stderr (no stack trace, no password, nothing on
// stdout), quickly. The server address is a closed loopback port, so a value the check accepts
// still ends in a clean connection failure, printed as one line because -v is on.
// A closed port fails every accepted value alike, so each value the check accepted (its line is a
// network error, not a refusal) runs once more against a live simulator, where it must either pass
// or fail for a reason that belongs to that value (a database not found, a login refused, …) —
// never an internal error, a protocol failure or a setting the driver refuses.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync, chmodSync, mkdtempSync, existsSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { join, resolve, dirname } from 'node:path';
import { BIN_X64 } from '../helpers/paths.ts';
import { run, tempDir, freePort, writePrivate } from '../peers/harness.ts';
import { HOSTILE_TEXT, HOSTILE_NUMBERS, HOSTILE_CONFIG_LINES, VALUE_OPTIONS, NUMERIC_OPTIONS, rawArgvScript } from './hostile.ts';
import { inPool, crashSigns } from './pool.ts';
import { startSqlSim, type SqlSim } from '../sqlsim/server.ts';
import { scenarioFile } from '../sqlsim/scenarios.ts';

const PASSWORD = 'Hostile-Table-Pw-7319';
const LIMIT_MS = 8_000; // far above the 2-3 s deadlines used here: a case that needs it has hung
let tmp: ReturnType<typeof tempDir>;
let closedPort: number;
let live: SqlSim;

before(async () => {
  tmp = tempDir('mrc-bad-input');
  closedPort = await freePort();
  // the principal of a mirrored pair, where the base command line passes
  const scenario = scenarioFile('principal');
  scenario.logins = scenario.logins.map((l) => (l.name === 'monitor' ? { ...l, password: PASSWORD } : l));
  live = await startSqlSim({ scenario });
});
after(async () => {
  await live?.close();
  tmp?.remove();
});

interface Case {
  label: string;
  args: Buffer[];
  env?: Record<string, string>;
}

interface Outcome {
  label: string;
  problems: string[];
  /** the value was accepted (a network error at the closed port) and was run against the live simulator */
  rerun?: boolean;
}

/** What an accepted value may fail for against a live server: its own consequence, per option. */
const ALLOWED_LIVE_FAILURES: Record<string, RegExp> = {
  database: /database not found/, user: /^login failed/, domain: /^login failed/,
  host: /^(name resolution failed|network error|timeout)/, instance: /^SQL Server Browser lookup failed/,
  'maintenance-file': /^maintenance/, 'application-name': /$^/, role: /not SECONDARY|not MIRROR/,
  'mirroring-state': /mirroring state is/, 'max-lag': /not in an availability group/,
  partner: /^partner \S+ cannot be asked \((name resolution failed|network error|timeout)/,
};
const NEVER = new Set(['INTERNAL', 'PROTOCOL', 'ECONFIG', 'ETDS']);

/**
 * The check runs as root here and --log-file appends to the file it names: refuse to run a case
 * whose log file would land outside the test's directory in a directory that exists.
 */
function assertLogFileContained(c: Case, cwd: string): void {
  c.args.forEach((a, k) => {
    const text = a.toString('utf8');
    let value: string | undefined;
    if (text === '--log-file') value = c.args[k + 1]?.toString('utf8');
    else if (text.startsWith('--log-file=')) value = text.slice('--log-file='.length);
    if (value === undefined || value === '' || value.includes('\0')) return;
    const target = resolve(cwd, value);
    if (!target.startsWith(tmp.dir + '/') && value.length < 4096 && existsSync(dirname(target))) {
      throw new Error(`case ${c.label}: --log-file would write ${target}, outside the test directory`);
    }
  });
}

async function runCase(c: Case, i: number): Promise<Outcome> {
  // each case in its own directory: --log-file and friends may create files named by the value
  const cwd = mkdtempSync(join(tmp.dir, 'case-'));
  assertLogFileContained(c, cwd);
  const script = rawArgvScript(cwd, `case${i}`, BIN_X64, c.args);
  const r = await run('/bin/sh', [script], {
    cwd, limitMs: LIMIT_MS,
    env: { PATH: '/usr/bin:/bin', MSSQL_PASSWORD: PASSWORD, ...c.env },
  });
  const problems: string[] = [];
  const lines = r.stderr.split('\n');
  if (lines.at(-1) === '') lines.pop();
  if (r.killed) problems.push(`still running after ${LIMIT_MS} ms`);
  if (r.status !== 1) problems.push(`exit ${r.status ?? r.signal} (expected 1)`);
  if (lines.length !== 1) problems.push(`${lines.length} lines on stderr (expected 1): ${JSON.stringify(r.stderr.slice(0, 300))}`);
  if (r.stdout !== '') problems.push(`stdout not empty: ${JSON.stringify(r.stdout.slice(0, 200))}`);
  const crash = crashSigns(r.stderr);
  if (crash) problems.push(`crash signs on stderr: ${crash}`);
  if (r.stderr.includes(PASSWORD) || r.stdout.includes(PASSWORD)) problems.push('the password appears in the output');
  if (problems.length > 0 || !/: FAIL: (network error|name resolution failed|SQL Server Browser lookup failed)/.test(r.stderr)) return { label: c.label, problems };
  return { label: c.label, problems: await runLive(c, i, cwd), rerun: true };
}

/** An accepted value, against the live simulator: a pass, or a failure that value explains. */
async function runLive(c: Case, i: number, cwd: string): Promise<string[]> {
  const args = c.args.map((a, k) => (c.args[k - 1]?.toString() === '--port' && a.toString() === String(closedPort) ? s(String(live.port)) : a));
  const option = /^--([\w-]+)[ =<]/.exec(c.label)?.[1] ?? '';
  const script = rawArgvScript(cwd, `live${i}`, BIN_X64, [...args, s('--json')]);
  const r = await run('/bin/sh', [script], { cwd, limitMs: LIMIT_MS, env: { PATH: '/usr/bin:/bin', MSSQL_PASSWORD: PASSWORD, ...c.env } });
  let report: { verdict?: string; errorCode?: string | null; reason?: string } = {};
  try {
    report = JSON.parse(r.stdout.trim().split('\n').at(-1) ?? '');
  } catch {
    return [`live: no JSON (exit ${r.status}): ${JSON.stringify((r.stdout + r.stderr).slice(0, 200))}`];
  }
  const problems: string[] = [];
  if (r.stdout.includes(PASSWORD) || r.stderr.includes(PASSWORD)) problems.push('live: the password appears in the output');
  if (r.status !== 0 && r.status !== 1 && !(option === 'weight' && r.status! >= 2)) problems.push(`live: exit ${r.status ?? r.signal}`);
  if (r.status === 1) {
    const reason = report.reason ?? '';
    if (NEVER.has(report.errorCode ?? '')) problems.push(`live: ${report.errorCode}: ${reason}`);
    else if (!(ALLOWED_LIVE_FAILURES[option] ?? /$^/).test(reason.replace(/^database "[^"]*": /, ''))) problems.push(`live: an accepted --${option} fails for another reason: ${reason}`);
  }
  return problems;
}

function report(outcomes: Outcome[], minLive = 0): void {
  const bad = outcomes.filter((o) => o.problems.length > 0);
  const reruns = outcomes.filter((o) => o.rerun).length;
  console.log(`# bad-input: ${outcomes.length} cases, ${bad.length} failing; ${reruns} accepted values also run against a live simulator`);
  assert.ok(reruns >= minLive, `only ${reruns} accepted values reached the live simulator (expected at least ${minLive})`);
  assert.deepEqual(bad.map((o) => `${o.label}: ${o.problems.join('; ')}`), [], 'every hostile input must give exit 1 and one line');
}

const s = (x: string) => Buffer.from(x, 'utf8');
const base = (): Buffer[] => ['--host', '127.0.0.1', '--port', String(closedPort), '--database', 'appdb', '--user', 'monitor', '--timeout', '2', '--encrypt', 'off', '-v'].map(s);

/** Replace (or add) one option's value in the base command line. */
function withValue(option: string, value: Buffer): Buffer[] {
  const args = base();
  const at = args.findIndex((a) => a.toString() === `--${option}`);
  if (at >= 0) args[at + 1] = value;
  else args.unshift(s(`--${option}`), value);
  return args;
}

test('hostile values for every option on the command line → exit 1, one line', async () => {
  const cases: Case[] = [];
  VALUE_OPTIONS.forEach((opt, i) => {
    const numeric = (NUMERIC_OPTIONS as readonly string[]).includes(opt);
    // every option gets every other text value (alternating per option, so each value still
    // meets half the options); the numeric options get all values, text and number-like
    const text = HOSTILE_TEXT.filter((_, j) => numeric || (i + j) % 2 === 0 || j < 3);
    for (const h of numeric ? [...text, ...HOSTILE_NUMBERS] : text) {
      // --max-lag is judged only with --role secondary; elsewhere it fails for that reason alone
      const extra = opt === 'max-lag' ? [s('--role'), s('secondary')] : [];
      cases.push({ label: `--${opt} <${h.label}>`, args: [...withValue(opt, h.bytes), ...extra] });
    }
    // the --name=VALUE spelling goes through a different path in the parser
    const args = base().filter((_, k, all) => all[k].toString() !== `--${opt}` && all[k - 1]?.toString() !== `--${opt}`);
    cases.push({ label: `--${opt}=<newline>`, args: [Buffer.concat([s(`--${opt}=`), s('a\nb')]), ...args] });
  });
  report(await inPool(cases, 4, runCase), 5);
});

test('duplicate, conflicting and malformed options → exit 1, one line', async () => {
  const b = base().map((x) => x.toString());
  const table: { label: string; args: string[]; env?: Record<string, string> }[] = [
    { label: 'port twice', args: [...b, '--port', '1434'] },
    { label: 'host twice', args: [...b, '--host', '127.0.0.2'] },
    { label: 'role twice', args: [...b, '--role', 'mirror', '--role', 'primary'] },
    { label: 'timeout twice', args: [...b, '-t', '1'] },
    { label: 'weight twice', args: [...b, '--weight', '1', '-w', '2'] },
    { label: 'config twice', args: [...b, '--config', '/nonexistent/a', '--config', '/nonexistent/b'] },
    { label: 'port with instance', args: [...b, '--instance', 'SQL1'] },
    { label: 'trust-server-certificate without TLS', args: [...b, '--encrypt', 'off', '--trust-server-certificate'] },
    { label: 'trust-server-certificate with strict', args: [...b, '--encrypt', 'strict', '--trust-server-certificate'] },
    { label: 'ca-file with trust-server-certificate', args: [...b, '--encrypt', 'on', '--trust-server-certificate', '--ca-file', '/etc/hostname'] },
    { label: 'ca-file that is not PEM', args: [...b, '--encrypt', 'on', '--ca-file', '/etc/hostname'] },
    { label: 'max-lag with role primary', args: [...b, '--max-lag', '5'] },
    { label: 'mirroring-state with role online', args: [...b, '--role', 'online', '--mirroring-state', 'SYNCHRONIZED'] },
    { label: 'PENDING_FAILOVER for primary', args: [...b, '--mirroring-state', 'PENDING_FAILOVER'] },
    { label: 'weight 254', args: [...b, '--weight', '254'] },
    { label: 'password on the command line', args: [...b, '--password', 'x'] },
    { label: 'password= on the command line', args: [...b, '--password=x'] },
    { label: 'unknown long option', args: [...b, '--frobnicate'] },
    { label: 'unknown short option', args: [...b, '-Z'] },
    { label: 'bundled unknown short options', args: [...b, '-vZq'] },
    { label: 'negated flag', args: [...b, '--no-json'] },
    { label: 'flag with a value', args: [...b, '--json=yes'] },
    { label: 'option without its value at the end', args: [...b, '--role'] },
    { label: 'positional argument without HAProxy', args: [...b, 'extra'] },
    { label: 'five positional arguments with HAProxy', args: [...b, '1', '2', '3', '4', '5'],
      env: { HAPROXY_SERVER_ADDR: '127.0.0.1', HAPROXY_SERVER_PORT: String(closedPort) } },
    { label: 'no host at all', args: ['--database', 'appdb', '--user', 'monitor'] },
    { label: 'no database', args: ['--host', '127.0.0.1', '--user', 'monitor'] },
    { label: 'no user', args: ['--host', '127.0.0.1', '--database', 'appdb'] },
    { label: 'HAProxy address that is garbage', args: ['--database', 'appdb', '--user', 'monitor', '-v'],
      env: { HAPROXY_SERVER_ADDR: '\x1b[31m;rm -rf /', HAPROXY_SERVER_PORT: '99999' } },
    { label: 'HAProxy port that is garbage', args: ['--database', 'appdb', '--user', 'monitor', '-v'],
      env: { HAPROXY_SERVER_ADDR: '127.0.0.1', HAPROXY_SERVER_PORT: 'NOT_USED' } },
    { label: 'MSSQL_ROLE_CHECK_CONFIG missing file', args: base().map((x) => x.toString()),
      env: { MSSQL_ROLE_CHECK_CONFIG: '/nonexistent/role-check.conf' } },
  ];
  const cases: Case[] = table.map((c) => ({ ...c, args: c.args.map(s) }));
  report(await inPool(cases, 4, runCase));
});

test('hostile config files (NUL, invalid UTF-8, control characters, duplicates, conflicts, odd file types) → exit 1, one line', async () => {
  const dir = join(tmp.dir, 'configs');
  mkdirSync(dir);
  const baseConfig = `host = 127.0.0.1\nport = ${closedPort}\ndatabase = appdb\nuser = monitor\npassword = ${PASSWORD}\n`;
  const cases: Case[] = HOSTILE_CONFIG_LINES.map((h, i) => {
    const file = join(dir, `c${i}.conf`);
    writePrivate(file, Buffer.concat([s(baseConfig), h.bytes, s('\n')]));
    return { label: `config line <${h.label}>`, args: [s('--config'), s(file), s('-v')] };
  });

  const special: [string, () => string][] = [
    ['readable by others (0644)', () => { const f = join(dir, 'open.conf'); writeFileSync(f, baseConfig); chmodSync(f, 0o644); return f; }],
    ['a directory', () => { const d = join(dir, 'adir'); mkdirSync(d, { mode: 0o700 }); return d; }],
    ['a FIFO nobody writes to', () => { const f = join(dir, 'fifo.conf'); execFileSync('mkfifo', ['-m', '600', f]); return f; }],
    ['a character device', () => '/dev/zero'],
    ['empty file', () => { const f = join(dir, 'empty.conf'); writePrivate(f, ''); return f; }],
    ['only the BOM and CRLF lines', () => { const f = join(dir, 'bom.conf'); writePrivate(f, '\uFEFFrole = lead\r\n'); return f; }],
  ];
  for (const [label, make] of special) cases.push({ label: `config file ${label}`, args: [s('--config'), s(make()), s('-v')] });

  const pwFifo = join(dir, 'pw.fifo');
  execFileSync('mkfifo', ['-m', '600', pwFifo]);
  const pwOpen = join(dir, 'pw-open');
  writeFileSync(pwOpen, PASSWORD + '\n');
  chmodSync(pwOpen, 0o644);
  const pwNul = join(dir, 'pw-nul');
  writePrivate(pwNul, Buffer.concat([s('pa'), Buffer.from([0]), s('ss\n')]));
  const pwEmpty = join(dir, 'pw-empty');
  writePrivate(pwEmpty, '\n');
  for (const [label, f] of [['FIFO', pwFifo], ['readable by others', pwOpen], ['with a NUL', pwNul], ['empty first line', pwEmpty], ['a directory', dir]]) {
    cases.push({ label: `password file ${label}`, args: [...base(), s('--password-file'), s(f)] });
  }
  report(await inPool(cases, 4, runCase));
});
