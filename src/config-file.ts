// The config file ("name = value" per line, long option names, # comments) and the private
// files that may hold a password: both are refused when others can read them, or group unless
// root owns the file and gives it to the group of the user that runs the check.
import { openSync, fstatSync, readSync, readFileSync, closeSync, constants } from 'node:fs';
import type { Stats } from 'node:fs';
import { OPTIONS } from './cli-spec.ts';
import type { OptionName } from './cli-spec.ts';
import { UsageError } from './errors.ts';

export interface ConfigEntry {
  name: OptionName;
  value: string;
  line: number;
}

const MAX_FILE_BYTES = 64 * 1024;

function errnoText(err: unknown): string {
  const code = (err as NodeJS.ErrnoException).code;
  switch (code) {
    case 'ENOENT': return 'does not exist';
    case 'EACCES': return 'cannot be read (permission denied)';
    case 'EISDIR': return 'is a directory';
    case 'ENOTDIR': return 'does not exist (a part of the path is not a directory)';
    case 'ENAMETOOLONG': return 'has too long a name';
    case 'ELOOP': return 'cannot be opened (too many symbolic links)';
    default: return `cannot be read (${code ?? String(err)})`;
  }
}

/** The name of group GID in /etc/group, else the number (for the fixing chown; read only for that message). */
function groupName(gid: number): string {
  try {
    for (const line of readFileSync('/etc/group', 'utf8').split('\n')) {
      const [name, , id] = line.split(':');
      if (name && Number(id) === gid && id !== '') return name;
    }
  } catch { /* no /etc/group: the number does */ }
  return String(gid);
}

/** The chown and chmod that let the user running the check read a root-owned file. */
function groupFix(path: string): string {
  const group = groupName(process.getegid?.() ?? 0);
  return `chown root:${group} ${path} && chmod 640 ${path}`;
}

/**
 * Like ssh and libpq (whose rule for root-owned key files this is): a file that may hold a secret
 * is the owner's alone (0600), or root's and readable by its group (0640), so an unprivileged
 * script user in that group reads a file it cannot change. Others get nothing.
 */
function checkPrivate(st: Stats, path: string, what: string): void {
  const mode = (st.mode & 0o777).toString(8).padStart(4, '0');
  if ((st.mode & 0o007) !== 0) {
    const fix = st.uid === 0 && (st.mode & 0o070) !== 0 ? `chmod 640 ${path}` : `chmod 600 ${path}`;
    throw new UsageError(`${what} ${path} is accessible by others (mode ${mode}); fix: ${fix}`);
  }
  if ((st.mode & 0o070) === 0) return;
  if ((st.mode & 0o030) !== 0) {
    const fix = st.uid === 0 ? `chmod 640 ${path}` : `chmod 600 ${path}`;
    throw new UsageError(`${what} ${path} is writable or executable by its group (mode ${mode}); fix: ${fix}`);
  }
  if (st.uid !== 0) {
    throw new UsageError(`${what} ${path} is readable by its group but not owned by root (mode ${mode}); fix: chmod 600 ${path}, or ${groupFix(path)}`);
  }
}

/**
 * Read a regular file whole. Opened non-blocking, so a FIFO nobody writes to is refused instead of
 * hanging the check; devices and directories are refused too.
 */
export function readRegularFile(path: string, what: string, privateFile = false): string {
  let fd: number;
  try {
    fd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK | constants.O_NOCTTY);
  } catch (err) {
    // the usual cause for an unprivileged script user: a root-owned file not given to its group
    const hint = privateFile && (err as NodeJS.ErrnoException).code === 'EACCES' ? `; fix: ${groupFix(path)}` : '';
    throw new UsageError(`${what} ${path} ${errnoText(err)}${hint}`);
  }
  try {
    const st = fstatSync(fd);
    if (!st.isFile()) throw new UsageError(`${what} ${path} is not a regular file`);
    if (privateFile) checkPrivate(st, path, what);
    if (st.size > MAX_FILE_BYTES) throw new UsageError(`${what} ${path} is larger than ${MAX_FILE_BYTES} bytes`);
    const buf = Buffer.alloc(st.size);
    let got = 0;
    while (got < st.size) {
      const n = readSync(fd, buf, got, st.size - got, got);
      if (n === 0) break;
      got += n;
    }
    return buf.subarray(0, got).toString('utf8');
  } catch (err) {
    if (err instanceof UsageError) throw err;
    throw new UsageError(`${what} ${path} ${errnoText(err)}`);
  } finally {
    closeSync(fd);
  }
}

/** A file that may hold a secret: 0600, or 0640 root-owned with the check's group (checkPrivate). */
export function readPrivateFile(path: string, what: string): string {
  return readRegularFile(path, what, true);
}

/** The password file holds the password on its first line; the line end is not part of it. */
export function readPasswordFile(path: string): string {
  const text = readPrivateFile(path, 'password file');
  const first = text.replace(/^\uFEFF/, '').split('\n', 1)[0].replace(/\r$/, '');
  if (first === '') throw new UsageError(`password file ${path} is empty (the password is its first line)`);
  // bytes that are not UTF-8 decode to U+FFFD: that password would only fail to log in
  if (first.includes('\uFFFD')) throw new UsageError(`password file ${path} is not UTF-8 text`);
  // no SQL Server password holds a NUL (LOGIN7 carries it as text): the file is damaged
  if (first.includes('\0')) throw new UsageError(`password file ${path} contains a NUL character`);
  return first;
}

/** Edit distance, to tell a mistyped option name from text that is none (and may be a secret). */
function distance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) row[j] = Math.min(prev[j] + 1, row[j - 1] + 1, prev[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
    prev = row;
  }
  return prev[b.length];
}

function unknownSetting(name: string): string {
  const typo = /^[A-Za-z][A-Za-z0-9_-]{0,39}$/.test(name) && OPTIONS.some((o) => distance(name.toLowerCase(), o.name) <= 2);
  return typo ? `unknown setting "${name}"` : 'unknown setting; the text before "=" is no option name (see --help)';
}

/** Parse config text; every problem names the file and the line. */
export function parseConfig(text: string, path: string): ConfigEntry[] {
  const entries: ConfigEntry[] = [];
  const seen = new Map<OptionName, number>();
  const lines = text.replace(/^\uFEFF/, '').split('\n');
  lines.forEach((raw, i) => {
    const line = i + 1;
    const where = `${path} line ${line}`;
    const t = raw.replace(/\r$/, '').trim();
    if (t === '' || t.startsWith('#')) return;
    if (t.includes('\uFFFD')) throw new UsageError(`${where}: not UTF-8 text (save the file as UTF-8)`);
    const eq = t.indexOf('=');
    if (eq < 0) throw new UsageError(`${where}: expected "name = value"`);
    const name = t.slice(0, eq).trim();
    const value = t.slice(eq + 1).trim();
    if (name === '') throw new UsageError(`${where}: missing name before "="`);
    const spec = OPTIONS.find((o) => o.name === name);
    if (!spec) throw new UsageError(`${where}: ${unknownSetting(name)}`);
    if (spec.cliOnly) throw new UsageError(`${where}: "${name}" is accepted only on the command line`);
    // Only whole lines are comments; "# ..." after a value would silently become part of it (a
    // drain file that never exists). A password may hold "#".
    if (name !== 'password' && /(^|\s)#/.test(value)) {
      throw new UsageError(`${where}: ${name}: "#" in the value (a comment goes on a line of its own)`);
    }
    const before = seen.get(spec.name);
    if (before !== undefined && !spec.repeatable) {
      throw new UsageError(`${where}: "${name}" is already set on line ${before}`);
    }
    seen.set(spec.name, line);
    entries.push({ name: spec.name, value, line });
  });
  return entries;
}

export function readConfigFile(path: string): ConfigEntry[] {
  return parseConfig(readPrivateFile(path, 'config file'), path);
}
