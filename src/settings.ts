// Raw values → one validated, typed Settings. Every problem is a UsageError naming the option (or
// the config file and line) and what is wrong; no network, no SQL driver.
import { ipFamily } from './ip.ts';
import { openSync, fstatSync, closeSync, constants } from 'node:fs';
import { domainToASCII } from 'node:url';
import { isAbsolute } from 'node:path';
import { OPTIONS, MIRRORING_STATES } from './cli-spec.ts';
import { UsageError } from './errors.ts';
import { readPasswordFile, readRegularFile } from './config-file.ts';
import type { Given } from './options.ts';

export type Role = 'primary' | 'secondary' | 'mirror' | 'online';
export type Encrypt = 'off' | 'on' | 'strict';
export type TlsMinVersion = '1.0' | '1.1' | '1.2' | '1.3';

export { MIRRORING_STATES } from './cli-spec.ts';
export type MirroringState = (typeof MIRRORING_STATES)[number];

export const MAX_TIMEOUT_SECONDS = 300;

export interface Settings {
  host: string;
  port?: number; // absent with instance
  instance?: string;
  user: string;
  password: string;
  domain?: string;
  encrypt: Encrypt;
  trustServerCertificate: boolean;
  caFile?: string;
  ca?: string; // the PEM text of caFile
  /** the oldest TLS version accepted (--tls-min-version; 1.2, Node's own floor, unless given) */
  tlsMinVersion: TlsMinVersion;
  applicationName: string;
  timeoutMs: number;
  databases: string[];
  role: Role;
  mirroringStates?: MirroringState[];
  maxLagSeconds?: number;
  requireHa: boolean;
  /** --allow-standalone: --role primary passes copies nothing guards (see verdict.ts) */
  allowStandalone: boolean;
  /** --partner: the other server, asked after this one passes */
  partner?: { host: string; port?: number; instance?: string };
  maintenanceFile?: string;
  weight?: number;
  verbose: boolean;
  json: boolean;
  logFile?: string;
  /** --log-file, opened for appending while the options are checked, so a bad path is a bad option */
  logFd?: number;
}

/** A value shown in a message: quoted, short, one line. */
export function show(value: string): string {
  const s = value.length > 40 ? value.slice(0, 40) + '…' : value;
  return JSON.stringify(s);
}

const DECIMAL = /^(\d+(\.\d*)?|\.\d+)$/;
const INTEGER = /^\d+$/;

export function toSettings(values: Map<string, Given[]>): Settings {
  const one = (name: string): Given | undefined => values.get(name)?.[0];
  const fail = (g: Given, what: string): never => {
    throw new UsageError(`${g.origin}: ${what}`);
  };
  /** a non-empty string, or undefined when not given */
  const text = (name: string): string | undefined => {
    const g = one(name);
    if (!g) return undefined;
    if (g.value === '') fail(g, 'needs a value');
    if (g.value.includes('\0')) fail(g, 'contains a NUL character');
    return g.value;
  };
  const flag = (name: string): boolean => {
    const g = one(name);
    if (!g) return false;
    const v = g.value.toLowerCase();
    if (['true', 'yes', 'on', '1'].includes(v)) return true;
    if (['false', 'no', 'off', '0'].includes(v)) return false;
    return fail(g, `expected true or false, not ${show(g.value)}`);
  };
  const choice = (name: string): string => {
    const spec = OPTIONS.find((o) => o.name === name)!;
    const g = one(name);
    const v = (text(name) ?? spec.default!).toLowerCase();
    if (!spec.choices!.includes(v)) fail(g!, `expected one of ${spec.choices!.join(', ')}, not ${show(g!.value)}`);
    return v;
  };

  // Connection
  let host = text('host');
  if (host === undefined) {
    throw new UsageError('no server to check: give --host (or "host" in the config file, or HAPROXY_SERVER_ADDR)');
  }
  const hostGiven = one('host')!;
  host = checkHost(host, hostGiven);

  const instance = text('instance');
  if (instance !== undefined && !/^[^\s\\/:;,'"]{1,16}$/.test(instance)) {
    fail(one('instance')!, `${show(instance)} is not an instance name (at most 16 characters, no spaces or \\ / : ; , quotes)`);
  }
  let port: number | undefined;
  const portGiven = one('port');
  if (portGiven) {
    if (instance !== undefined) {
      fail(portGiven, '--port and --instance exclude each other (the SQL Server Browser gives the port of an instance)');
    }
    const p = text('port')!;
    if (!INTEGER.test(p) || Number(p) < 1 || Number(p) > 65535) fail(portGiven, `expected a TCP port 1..65535, not ${show(p)}`);
    port = Number(p);
  } else if (instance === undefined) {
    port = Number(OPTIONS.find((o) => o.name === 'port')!.default);
  }

  const user = text('user');
  if (user === undefined) throw new UsageError('no login: give --user (or "user" in the config file, or MSSQL_USER)');
  if (user.length > 128) fail(one('user')!, 'is longer than 128 characters');
  const domain = text('domain');
  // a DNS domain name has at most 253 characters (NetBIOS names 15); the NTLM messages carry 16-bit lengths
  if (domain !== undefined && domain.length > 253) fail(one('domain')!, 'is longer than 253 characters (a domain name)');

  let password: string;
  const pwFile = one('password-file');
  if (pwFile) {
    if (pwFile.value === '') fail(pwFile, 'needs a file name');
    password = readPasswordFile(pwFile.value);
  } else if (one('password')) {
    const g = one('password')!;
    if (g.value === '') fail(g, 'is empty');
    password = g.value;
  } else {
    throw new UsageError('no password: give --password-file FILE, MSSQL_PASSWORD, or "password" / "password-file" in the config file');
  }
  if (password.length > 128) throw new UsageError(`${(pwFile ?? one('password'))!.origin}: the password is longer than 128 characters`);

  const encrypt = choice('encrypt') as Encrypt;
  const trustServerCertificate = flag('trust-server-certificate');
  const caFile = text('ca-file');
  let ca: string | undefined;
  if (trustServerCertificate && encrypt !== 'on') {
    fail(one('trust-server-certificate')!, encrypt === 'strict'
      ? '--encrypt strict always verifies the server certificate; give --ca-file instead'
      : 'needs --encrypt on (with --encrypt off there is no TLS)');
  }
  if (caFile !== undefined) {
    if (trustServerCertificate) fail(one('ca-file')!, '--ca-file and --trust-server-certificate exclude each other');
    if (encrypt === 'off') fail(one('ca-file')!, 'needs --encrypt on or strict (with --encrypt off there is no TLS)');
    try {
      ca = readRegularFile(caFile, 'CA file');
    } catch (err) {
      fail(one('ca-file')!, (err as Error).message);
    }
    if (!ca!.includes('-----BEGIN CERTIFICATE-----')) fail(one('ca-file')!, `CA file ${caFile} holds no PEM certificate`);
  }

  // TLS inside PRELOGIN (--encrypt on) is TLS 1.2 at most: SQL Server speaks TLS 1.3 only with
  // TDS 8.0 (Microsoft Learn, "TLS 1.3 support"). TDS 8.0 (--encrypt strict) needs SQL Server
  // 2022 or later, which has TLS 1.2 (KB3135244: 2016 and later need no update) and must keep it
  // enabled ("TLS 1.3 support": "Don't disable TLS 1.2 on the machine"): below 1.2 is never
  // needed there, so it is refused rather than weakening a strict connection for nothing.
  const tlsMinGiven = one('tls-min-version');
  const tlsMinVersion = choice('tls-min-version') as TlsMinVersion;
  if (tlsMinGiven) {
    if (encrypt === 'off') fail(tlsMinGiven, 'needs --encrypt on or strict (with --encrypt off there is no TLS)');
    if (encrypt === 'on' && tlsMinVersion === '1.3') {
      fail(tlsMinGiven, 'TLS 1.3 needs --encrypt strict (SQL Server speaks TLS 1.3 only with TDS 8.0; inside PRELOGIN, with --encrypt on, TLS 1.2 is the newest)');
    }
    if (encrypt === 'strict' && (tlsMinVersion === '1.0' || tlsMinVersion === '1.1')) {
      fail(tlsMinGiven, `${tlsMinVersion} applies to --encrypt on only (--encrypt strict, TDS 8.0, needs SQL Server 2022 or later, which always has TLS 1.2)`);
    }
  }

  const applicationName = text('application-name') ?? OPTIONS.find((o) => o.name === 'application-name')!.default!;
  if (applicationName.length > 128) fail(one('application-name')!, 'is longer than 128 characters');

  const timeoutRaw = text('timeout') ?? OPTIONS.find((o) => o.name === 'timeout')!.default!;
  const timeoutSeconds = Number(timeoutRaw);
  if (!DECIMAL.test(timeoutRaw) || !(timeoutSeconds > 0) || timeoutSeconds > MAX_TIMEOUT_SECONDS) {
    fail(one('timeout')!, `expected seconds greater than 0 and at most ${MAX_TIMEOUT_SECONDS} (fractions allowed), not ${show(timeoutRaw)}`);
  }
  const timeoutMs = Math.max(1, Math.round(timeoutSeconds * 1000));

  // Check
  const dbs = values.get('database') ?? [];
  if (dbs.length === 0) throw new UsageError('no database to check: give --database NAME (repeat it for several)');
  const databases = dbs.map((g) => {
    if (g.value === '') fail(g, 'needs a database name');
    if (g.value.includes('\0')) fail(g, 'contains a NUL character');
    if (g.value.length > 128) fail(g, `${show(g.value)} is longer than 128 characters (sysname)`);
    return g.value;
  });

  const roleName = choice('role');
  const role: Role = roleName === 'principal' ? 'primary' : (roleName as Role);

  let mirroringStates: MirroringState[] | undefined;
  const ms = values.get('mirroring-state');
  if (ms) {
    if (role !== 'primary' && role !== 'mirror') fail(ms[0], `applies to --role primary or mirror, not ${role}`);
    mirroringStates = [];
    for (const g of ms) {
      for (const part of g.value.split(',')) {
        const s = part.trim().toUpperCase();
        if (!(MIRRORING_STATES as readonly string[]).includes(s)) {
          fail(g, `expected mirroring states from ${MIRRORING_STATES.join(', ')}, not ${show(part.trim())}`);
        }
        if (s === 'PENDING_FAILOVER' && role === 'primary') fail(g, 'PENDING_FAILOVER never passes --role primary (a failover is under way)');
        if (!mirroringStates.includes(s as MirroringState)) mirroringStates.push(s as MirroringState);
      }
    }
  }

  let maxLagSeconds: number | undefined;
  const lag = one('max-lag');
  if (lag) {
    if (role !== 'secondary') fail(lag, `applies to --role secondary, not ${role}`);
    const v = text('max-lag')!;
    if (!DECIMAL.test(v) || Number(v) > 2 ** 31) fail(lag, `expected seconds, 0 or more, not ${show(v)}`);
    maxLagSeconds = Number(v);
  }

  const allowStandalone = flag('allow-standalone');
  if (allowStandalone && role !== 'primary') fail(one('allow-standalone')!, `applies to --role primary, not ${role}`);
  if (allowStandalone && flag('require-ha')) fail(one('allow-standalone')!, '--allow-standalone and --require-ha exclude each other');
  // a standalone database passes --role primary only when the operator says so
  const requireHa = flag('require-ha') || (role === 'primary' && !allowStandalone);
  const partnerGiven = one('partner');
  let partner: Settings['partner'];
  if (partnerGiven) {
    if (role !== 'primary') fail(partnerGiven, `applies to --role primary, not ${role}`);
    partner = partnerOf(text('partner')!, partnerGiven, { port, instance });
  }
  const maintenanceFile = text('maintenance-file');
  // A relative path would be looked for where keepalived starts the check (/), not where the
  // operator tried it by hand: the drain would silently never happen.
  if (maintenanceFile !== undefined && !isAbsolute(maintenanceFile)) {
    fail(one('maintenance-file')!, `needs an absolute path, not ${show(maintenanceFile)}`);
  }

  let weight: number | undefined;
  const w = one('weight');
  if (w) {
    const v = text('weight')!;
    if (!INTEGER.test(v) || Number(v) > 253) fail(w, `expected an integer 0..253 (exit code N+2 for keepalived misc_dynamic), not ${show(v)}`);
    weight = Number(v);
  }

  const logFile = text('log-file');
  let logFd: number | undefined;
  if (logFile !== undefined) logFd = openLogFile(logFile, one('log-file')!);

  return {
    host, port, instance, user, password, domain,
    encrypt, trustServerCertificate, caFile, ca, tlsMinVersion, applicationName, timeoutMs,
    databases, role, mirroringStates, maxLagSeconds, requireHa, allowStandalone, partner, maintenanceFile, weight,
    verbose: flag('verbose'), json: flag('json'), logFile, logFd,
  };
}

/** A host as --host takes it: a name or an address ([v6] unbracketed), or a UsageError naming it. */
function checkHost(host: string, g: Given): string {
  const fail = (what: string): never => {
    throw new UsageError(`${g.origin}: ${what}`);
  };
  if (/^\[.*\]$/.test(host)) host = host.slice(1, -1); // [::1]
  if (ipFamily(host) === 0) {
    if (host.includes('\\')) fail(`${show(host)} looks like HOST\\INSTANCE; give the instance with --instance`);
    if (/^[^:]+[:,]\d+$/.test(host)) fail(`${show(host)} includes a port; give it with --port`);
    if (host.startsWith('/')) fail(`${show(host)} is a path, not a host (a unix socket cannot be checked)`);
    const ascii = domainToASCII(host);
    // domainToASCII drops tabs and line breaks (as URLs do): "a\nb" must not become "ab"
    if (host.length > 253 || ascii === '' || /[\u0000-\u0020\u007f-\u009f\u2028\u2029]/.test(host) ||
        !/^[A-Za-z0-9_][A-Za-z0-9_-]*(\.[A-Za-z0-9_-]+)*\.?$/.test(ascii)) {
      fail(`${show(host)} is not a host name or IP address`);
    }
  }

  return host;
}

/** --partner HOST[:PORT] ([v6]:PORT for an IPv6 address); without a port, this server's port or instance. */
function partnerOf(value: string, g: Given, self: { port?: number; instance?: string }): NonNullable<Settings['partner']> {
  const m = /^\[([^\]]*)\](?::(.*))?$/.exec(value) ?? (ipFamily(value) === 6 ? null : /^([^:]*)(?::(.*))?$/.exec(value));
  const host = checkHost(m ? m[1] : value, g);
  const p = m?.[2];
  if (p === undefined) return { host, port: self.port, instance: self.instance };
  if (!INTEGER.test(p) || Number(p) < 1 || Number(p) > 65535) throw new UsageError(`${g.origin}: expected a TCP port 1..65535 after the host, not ${show(p)}`);
  return { host, port: Number(p) };
}

/** Open the log file for appending (created 0640); a FIFO or a directory is refused, never waited on. */
function openLogFile(path: string, g: Given): number {
  const shown = path.length > 200 ? path.slice(0, 200) + '…' : path;
  let fd: number;
  try {
    fd = openSync(path, constants.O_WRONLY | constants.O_APPEND | constants.O_CREAT | constants.O_NONBLOCK | constants.O_NOCTTY, 0o640);
  } catch (err) {
    throw new UsageError(`${g.origin}: ${shown} cannot be opened for appending (${(err as NodeJS.ErrnoException).code ?? err})`);
  }
  const st = fstatSync(fd);
  if (!st.isFile() && !st.isCharacterDevice()) {
    closeSync(fd);
    throw new UsageError(`${g.origin}: ${shown} is not a regular file`);
  }
  return fd;
}
