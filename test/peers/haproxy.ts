// HAProxy run for real: a TCP frontend on loopback, a backend of SQL servers health-checked by an
// external command, and the stats socket to read what HAProxy thinks of each server.
import { writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { Daemon } from './harness.ts';

export interface HaproxySettings {
  dir: string;
  frontendPort: number;
  servers: { name: string; host: string; port: number }[];
  /** absolute path of the external-check command */
  checkCommand: string;
  interMs: number;
  fall: number;
  rise: number;
  /** how long HAProxy lets one check run before killing it */
  checkTimeoutMs: number;
}

export const statsSocket = (dir: string) => join(dir, 'haproxy.sock');

export function haproxyConf(s: HaproxySettings): string {
  const servers = s.servers.map((v) =>
    `  server ${v.name} ${v.host}:${v.port} check inter ${s.interMs} fall ${s.fall} rise ${s.rise}`).join('\n');
  // HAProxy 2.6 runs the command with an environment of only PATH and HAPROXY_*: neither
  // `setenv` nor the environment HAProxy was started with reaches it (preserve-env came in 2.9).
  return `global
  external-check
  insecure-fork-wanted
  stats socket ${statsSocket(s.dir)} mode 600 level admin
  pidfile ${join(s.dir, 'haproxy.pid')}

defaults
  mode tcp
  timeout connect 2s
  timeout client 30s
  timeout server 30s
  timeout check ${s.checkTimeoutMs}ms

listen mssql
  bind 127.0.0.1:${s.frontendPort}
  option external-check
  external-check path "/usr/bin:/bin"
  external-check command ${s.checkCommand}
${servers}
`;
}

export function startHaproxy(s: HaproxySettings): Daemon {
  const conf = join(s.dir, 'haproxy.cfg');
  writeFileSync(conf, haproxyConf(s), { mode: 0o600 });
  // -db: stay in the foreground, log to stderr
  return new Daemon('haproxy', 'haproxy', ['-db', '-f', conf], { PATH: process.env.PATH });
}

/** Send one command to the stats socket and return the whole answer. */
export function statsCommand(sock: string, cmd: string, limitMs = 3000): Promise<string> {
  return new Promise((resolve, reject) => {
    const c = connect(sock);
    let buf = '';
    const timer = setTimeout(() => { c.destroy(); reject(new Error(`stats socket: no answer to "${cmd}" within ${limitMs} ms`)); }, limitMs);
    c.on('connect', () => c.write(cmd + '\n'));
    c.on('data', (b) => { buf += b.toString('utf8'); });
    c.on('error', (e) => { clearTimeout(timer); reject(e); });
    c.on('close', () => { clearTimeout(timer); resolve(buf); });
  });
}

/** Server name → status ("UP", "DOWN", "UP 1/2", "no check", ...) from `show stat`. */
export async function serverStatus(sock: string, backend = 'mssql'): Promise<Map<string, string>> {
  const csv = await statsCommand(sock, 'show stat');
  const lines = csv.split('\n').filter((l) => l.trim() !== '');
  const header = lines[0].replace(/^# /, '').split(',');
  const pxname = header.indexOf('pxname');
  const svname = header.indexOf('svname');
  const status = header.indexOf('status');
  const result = new Map<string, string>();
  for (const l of lines.slice(1)) {
    const f = l.split(',');
    if (f[pxname] !== backend || f[svname] === 'FRONTEND' || f[svname] === 'BACKEND') continue;
    result.set(f[svname], f[status]);
  }
  return result;
}

/** Server name → operational state number from `show servers state` (0 stopped, 2 running). */
export async function serverOpState(sock: string, backend = 'mssql'): Promise<Map<string, number>> {
  const text = await statsCommand(sock, `show servers state ${backend}`);
  const lines = text.split('\n').filter((l) => l.trim() !== '' && !/^\d+$/.test(l.trim()));
  const header = lines.find((l) => l.startsWith('#'))!.replace(/^# /, '').split(' ');
  const name = header.indexOf('srv_name');
  const op = header.indexOf('srv_op_state');
  const result = new Map<string, number>();
  for (const l of lines.filter((x) => !x.startsWith('#'))) {
    const f = l.split(' ');
    result.set(f[name], Number(f[op]));
  }
  return result;
}
