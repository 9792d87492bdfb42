// FreeTDS's tsql as a test client (Debian freetds-bin): an independent TDS implementation.
import { spawn, spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';

export function haveTsql(): boolean {
  return spawnSync('tsql', ['-C'], { stdio: 'ignore' }).status === 0;
}

export interface TsqlRun {
  status: number | null;
  out: string;
}

/**
 * Runs tsql against host:port with a freetds.conf of its own. The password goes on stdin, never
 * in argv: tsql reads it from stdin when it has no terminal, so it runs in a new session (setsid).
 * The statements follow, each ended by "go". Bounded by `limitMs`.
 */
export function tsql(opts: { host: string; port: number; user: string; password: string; encryption: 'off' | 'request' | 'require';
  database?: string; statements: string[]; dir: string; limitMs?: number; tdsVersion?: string }): Promise<TsqlRun> {
  const conf = join(opts.dir, `freetds-${opts.port}-${opts.encryption}.conf`);
  writeFileSync(conf, `[sim]\n\thost = ${opts.host}\n\tport = ${opts.port}\n\ttds version = ${opts.tdsVersion ?? '7.4'}\n\tencryption = ${opts.encryption}\n`);
  const args = ['-S', 'sim', '-U', opts.user, ...(opts.database ? ['-D', opts.database] : [])];
  return new Promise((resolve) => {
    const child = spawn('tsql', args, {
      detached: true, // setsid: no controlling terminal, so the password is read from stdin
      env: { PATH: process.env.PATH, FREETDSCONF: conf, LANG: 'C.UTF-8', HOME: opts.dir },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.limitMs ?? 15_000);
    child.on('close', (status) => {
      clearTimeout(timer);
      resolve({ status, out });
    });
    child.stdin.end(`${opts.password}\n${opts.statements.map((s) => `${s}\ngo\n`).join('')}exit\n`);
  });
}
