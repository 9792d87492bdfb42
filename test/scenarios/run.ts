// Runs the scenarios of ./cases.ts against whatever servers a TopologyFactory provides, with the
// built binary: the same code for sqlsim (CI) and for real SQL Server in Docker. The password
// reaches the binary through a 0600 --password-file, never its argv or environment.
import { spawn } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Check, Scenario, Topology, TopologyFactory } from './cases.ts';

export interface CheckRun {
  /** the binary's argv, without secrets */
  argv: string[];
  exit: number | null;
  signal: string | null;
  stdout: string;
  stderr: string;
  /** the --json report, when stdout held one */
  report: { reason?: string; errorCode?: string | null; databases?: { name: string; reason: string }[] } | null;
  ms: number;
}

/** Everything the check said about why: its reason, error code and each database's reason. */
export function reasons(run: CheckRun): string {
  if (!run.report) return `${run.stdout}\n${run.stderr}`;
  const r = run.report;
  return [r.reason ?? '', r.errorCode ?? '', ...(r.databases ?? []).map((d) => `${d.name}: ${d.reason}`)].join('\n');
}

/** Run the binary once against one server of the topology. */
export async function runCheck(binary: string, topology: Topology, check: Check): Promise<CheckRun> {
  const endpoint = topology.endpoints[check.server];
  if (!endpoint) throw new Error(`the ${topology.kind} topology has no ${check.server} server`);
  const login = topology.logins[check.login ?? 'monitor'];
  const password = check.wrongPassword ? `not-${login.password}` : login.password;
  const dir = mkdtempSync(join(tmpdir(), 'scenario-'));
  try {
    const passwordFile = join(dir, 'password');
    writeFileSync(passwordFile, password + '\n', { mode: 0o600 });
    chmodSync(passwordFile, 0o600);
    const partner = check.partner === undefined ? undefined : topology.endpoints[check.partner];
    if (check.partner !== undefined && !partner) throw new Error(`the ${topology.kind} topology has no ${check.partner} server`);
    const argv = [
      '--host', endpoint.host, '--port', String(endpoint.port), '--user', login.user,
      '--password-file', passwordFile, '--timeout', String(topology.timeoutSeconds), '--json',
      // the scenarios are about roles, not TLS: said explicitly, since TLS is the default
      ...(check.argv.includes('--encrypt') ? [] : ['--encrypt', 'off']),
      ...check.argv,
      ...(partner ? ['--partner', `${partner.host.includes(':') ? `[${partner.host}]` : partner.host}:${partner.port}`] : []),
    ];
    // An empty environment: no MSSQL_PASSWORD, HAPROXY_* or config file from the caller's shell.
    const started = performance.now();
    const child = spawn(binary, argv, { env: {}, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    // The check has a hard deadline of its own; this only stops a broken build from hanging the suite.
    const guard = setTimeout(() => child.kill('SIGKILL'), (topology.timeoutSeconds + 15) * 1000);
    const [exit, signal] = await new Promise<[number | null, string | null]>((resolve, reject) => {
      child.on('error', reject);
      child.on('close', (code, sig) => resolve([code, sig]));
    }).finally(() => clearTimeout(guard));
    let report: CheckRun['report'] = null;
    try {
      report = JSON.parse(stdout.trim().split('\n').pop() ?? '');
    } catch {
      report = null;
    }
    return { argv, exit, signal, stdout, stderr, report, ms: Math.round(performance.now() - started) };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function describe(check: Check): string {
  const who = `${check.server} as ${check.login ?? 'monitor'}${check.wrongPassword ? ' (wrong password)' : ''}${check.partner ? `, partner ${check.partner}` : ''}`;
  return `${who}: ${check.argv.join(' ')}`;
}

/**
 * One scenario on a fresh topology: each check must give the expected exit code and reason.
 * Throws an Error naming the step, what was expected and what the check said. `log` gets one line
 * per step.
 */
export async function runScenario(binary: string, factory: TopologyFactory, scenario: Scenario,
  log: (line: string) => void = () => {}): Promise<void> {
  const topology = await factory(scenario.topology);
  try {
    for (const [i, step] of scenario.steps.entries()) {
      const at = `step ${i + 1}`;
      if ('failover' in step) {
        await topology.failover();
        log(`  ${at}: failover done`);
        continue;
      }
      if ('setOffline' in step) {
        await topology.setOffline(step.setOffline);
        log(`  ${at}: ${step.setOffline} is offline`);
        continue;
      }
      const c = step.check;
      const run = await runCheck(binary, topology, c);
      const said = reasons(run);
      const problems: string[] = [];
      if (run.exit !== c.exit) problems.push(`exit ${run.exit}${run.signal ? ` (${run.signal})` : ''}, expected ${c.exit}`);
      if (c.reason !== undefined && !said.toLowerCase().includes(c.reason.toLowerCase())) {
        problems.push(`reason does not contain ${JSON.stringify(c.reason)}`);
      }
      log(`  ${at}: ${describe(c)} → exit ${run.exit} in ${run.ms} ms${problems.length ? ' ✗' : ''}: ${said.split('\n')[0]}`);
      if (problems.length) {
        // Passwords never reach the output: the check scrubs its own, and these are the runner's.
        const hide = (t: string) => Object.values(topology.logins).map((l) => l.password)
          .reduce((text, pw) => (pw ? text.split(pw).join('***') : text), t);
        throw new Error(hide([
          `${scenario.name}, ${at} (${describe(c)}): ${problems.join('; ')}`,
          `  check said: ${said.replace(/\n/g, ' | ')}`,
          `  stdout: ${run.stdout.trim()}`,
          `  stderr: ${run.stderr.trim()}`,
        ].join('\n')));
      }
    }
  } finally {
    await topology.close();
  }
}
