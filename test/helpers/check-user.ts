// The system user the packages create (mssql-role-check), for tests that run what the docs run as
// it (keepalived's script_user, runuser -u, install -g): /etc/passwd and /etc/group with the user,
// as the packages leave them, bound over the host's in a private mount namespace (unshare -m).
// The host's own files are never changed.
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** The user the examples run the check as; the packages create it (build/deb/postinst, the spec's %pre). */
export const CHECK_USER = 'mssql-role-check';

export const CHECK_UID = 64999;

function accountFiles(dir: string): { passwd: string; group: string } {
  const passwd = join(dir, 'passwd');
  const group = join(dir, 'group');
  if (!existsSync(passwd)) {
    let p = readFileSync('/etc/passwd', 'utf8');
    let g = readFileSync('/etc/group', 'utf8');
    if (!new RegExp(`^${CHECK_USER}:`, 'm').test(g)) g += `${CHECK_USER}:x:${CHECK_UID}:\n`;
    const gid = new RegExp(`^${CHECK_USER}:[^:]*:(\\d+):`, 'm').exec(g)![1];
    if (!new RegExp(`^${CHECK_USER}:`, 'm').test(p)) p += `${CHECK_USER}:x:${CHECK_UID}:${gid}:${CHECK_USER} health check:/nonexistent:/usr/sbin/nologin\n`;
    writeFileSync(passwd, p, { mode: 0o644 });
    writeFileSync(group, g, { mode: 0o644 });
  }
  return { passwd, group };
}

/** The uid and gid the check's user has inside withCheckUser (the host's, if it has the user). */
export function checkUserIds(dir: string): { uid: number; gid: number } {
  const line = readFileSync(accountFiles(dir).passwd, 'utf8').split('\n').find((l) => l.startsWith(`${CHECK_USER}:`))!;
  const [, , uid, gid] = line.split(':');
  return { uid: Number(uid), gid: Number(gid) };
}

/** argv prefix that runs a command where the check's user exists (scratch files in DIR). */
export function withCheckUser(dir: string): string[] {
  const { passwd, group } = accountFiles(dir);
  return ['unshare', '-m', 'sh', '-c', 'mount --bind "$1" /etc/passwd && mount --bind "$2" /etc/group && shift 2 && exec "$@"',
    'sh', passwd, group];
}

/**
 * keepalived --config-test FILE (scratch files go in DIR). keepalived 2.2.7 (Debian 12) ends a
 * config test with a non-root script_user by SIGTERM to itself, after the whole file is parsed and
 * every problem printed (strace: it drops to script_user to check the script's path, then compares
 * getppid() with a keepalived parent that a config test has not): that is its "done" here, and the
 * output decides. Any other signal or exit status fails.
 */
export function keepalivedConfigTest(file: string, dir: string, extra: string[] = []): { status: number | null; output: string } {
  const [cmd, ...args] = withCheckUser(dir);
  const r = spawnSync(cmd, [...args, 'keepalived', '--config-test', ...extra, '--use-file', file], { encoding: 'utf8', timeout: 60_000 });
  if (r.error) throw new Error(`keepalived could not run: ${r.error.message}`);
  const nonRootUser = /^\s*script_user\s+(?!root\b)\S+/m.test(readFileSync(file, 'utf8'));
  const status = r.signal === 'SIGTERM' && nonRootUser ? 0 : r.status;
  return { status, output: (r.stdout + r.stderr).trim() };
}
