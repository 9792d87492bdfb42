// Raw values → one validated, typed Settings. Each option's own values are judged by its parser
// (cli-spec.ts); here are the rules across options, then the files the options name are read.
// Every problem is a UsageError naming the option (or the config file and line) and what is
// wrong; no network, no SQL driver.
import { openSync, fstatSync, closeSync, constants } from 'node:fs';
import { parseOptions, fail, defaultOf } from './cli-spec.ts';
import type { Given, OptionName, Parsed, Role, Encrypt, TlsMinVersion, MirroringState } from './cli-spec.ts';
import { UsageError } from './errors.ts';
import { readPasswordFile, readRegularFile } from './config-file.ts';

export type { Role, Encrypt, TlsMinVersion, MirroringState } from './cli-spec.ts';
export { MIRRORING_STATES, MAX_TIMEOUT_SECONDS, show } from './cli-spec.ts';

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

/** The options' values (each a list, as given) → Settings; the daemon calls it once per target. */
export function toSettings(values: ReadonlyMap<OptionName, readonly Given[]>): Settings {
  const p = parseOptions(values);
  const agreed = crossOptionRules(p, values);

  // The files named, read only once the options agree.
  const first = (name: OptionName): Given => values.get(name)![0];
  const fromFile = p['password-file'] !== undefined;
  const password = fromFile ? readPasswordFile(p['password-file']!) : p.password!; // one of the two: crossOptionRules
  if (password.length > 128) throw new UsageError(`${first(fromFile ? 'password-file' : 'password').origin}: the password is longer than 128 characters`);

  let ca: string | undefined;
  const caFile = p['ca-file'];
  if (caFile !== undefined) {
    try {
      ca = readRegularFile(caFile, 'CA file');
    } catch (err) {
      fail(first('ca-file'), (err as Error).message);
    }
    if (!ca.includes('-----BEGIN CERTIFICATE-----')) fail(first('ca-file'), `CA file ${caFile} holds no PEM certificate`);
  }
  const logFile = p['log-file'];
  const logFd = logFile === undefined ? undefined : openLogFile(logFile, first('log-file'));

  return {
    host: p.host, port: agreed.port, instance: p.instance, user: p.user, password, domain: p.domain,
    encrypt: p.encrypt, trustServerCertificate: p['trust-server-certificate'], caFile, ca,
    tlsMinVersion: p['tls-min-version'], applicationName: p['application-name'], timeoutMs: p.timeout,
    databases: p.database, role: p.role, mirroringStates: p['mirroring-state'], maxLagSeconds: p['max-lag'],
    requireHa: agreed.requireHa, allowStandalone: p['allow-standalone'], partner: agreed.partner,
    maintenanceFile: p['maintenance-file'], weight: p.weight,
    verbose: p.verbose, json: p.json, logFile, logFd,
  };
}

/**
 * The rules across options: what one option's value means for another. Returns the settings that
 * several options decide together.
 */
export function crossOptionRules(p: Parsed, values: ReadonlyMap<OptionName, readonly Given[]>): Pick<Settings, 'port' | 'requireHa' | 'partner'> {
  const given = (name: OptionName): Given | undefined => values.get(name)?.[0];
  const refuse = (name: OptionName, what: string): never => fail(given(name)!, what);
  const { encrypt, role } = p;

  // Connection
  if (p.port !== undefined && p.instance !== undefined) {
    refuse('port', '--port and --instance exclude each other (the SQL Server Browser gives the port of an instance)');
  }
  const port = p.port ?? (p.instance === undefined ? Number(defaultOf('port')) : undefined);
  if (p['password-file'] === undefined && p.password === undefined) {
    throw new UsageError('no password: give --password-file FILE, MSSQL_PASSWORD, or "password" / "password-file" in the config file');
  }
  if (p['trust-server-certificate'] && encrypt !== 'on') {
    refuse('trust-server-certificate', encrypt === 'strict'
      ? '--encrypt strict always verifies the server certificate; give --ca-file instead'
      : 'needs --encrypt on (with --encrypt off there is no TLS)');
  }
  if (p['ca-file'] !== undefined) {
    if (p['trust-server-certificate']) refuse('ca-file', '--ca-file and --trust-server-certificate exclude each other');
    if (encrypt === 'off') refuse('ca-file', 'needs --encrypt on or strict (with --encrypt off there is no TLS)');
  }
  // TLS inside PRELOGIN (--encrypt on) is TLS 1.2 at most: SQL Server speaks TLS 1.3 only with
  // TDS 8.0 (Microsoft Learn, "TLS 1.3 support"). TDS 8.0 (--encrypt strict) needs SQL Server
  // 2022 or later, which has TLS 1.2 (KB3135244: 2016 and later need no update) and must keep it
  // enabled ("TLS 1.3 support": "Don't disable TLS 1.2 on the machine"): below 1.2 is never
  // needed there, so it is refused rather than weakening a strict connection for nothing.
  const tls = p['tls-min-version'];
  if (given('tls-min-version')) {
    if (encrypt === 'off') refuse('tls-min-version', 'needs --encrypt on or strict (with --encrypt off there is no TLS)');
    if (encrypt === 'on' && tls === '1.3') {
      refuse('tls-min-version', 'TLS 1.3 needs --encrypt strict (SQL Server speaks TLS 1.3 only with TDS 8.0; inside PRELOGIN, with --encrypt on, TLS 1.2 is the newest)');
    }
    if (encrypt === 'strict' && (tls === '1.0' || tls === '1.1')) {
      refuse('tls-min-version', `${tls} applies to --encrypt on only (--encrypt strict, TDS 8.0, needs SQL Server 2022 or later, which always has TLS 1.2)`);
    }
  }

  // Check: what applies to which role
  const states = p['mirroring-state'];
  if (states) {
    if (role !== 'primary' && role !== 'mirror') refuse('mirroring-state', `applies to --role primary or mirror, not ${role}`);
    if (role === 'primary' && states.includes('PENDING_FAILOVER')) {
      const g = values.get('mirroring-state')!.find((x) => x.value.split(',').some((s) => s.trim().toUpperCase() === 'PENDING_FAILOVER'))!;
      fail(g, 'PENDING_FAILOVER never passes --role primary (a failover is under way)');
    }
  }
  if (p['max-lag'] !== undefined && role !== 'secondary') refuse('max-lag', `applies to --role secondary, not ${role}`);
  const allowStandalone = p['allow-standalone'];
  if (allowStandalone && role !== 'primary') refuse('allow-standalone', `applies to --role primary, not ${role}`);
  if (allowStandalone && p['require-ha']) refuse('allow-standalone', '--allow-standalone and --require-ha exclude each other');
  // a standalone database passes --role primary only when the operator says so
  const requireHa = p['require-ha'] || (role === 'primary' && !allowStandalone);
  let partner: Settings['partner'];
  if (p.partner) {
    if (role !== 'primary') refuse('partner', `applies to --role primary, not ${role}`);
    // without a port, the partner is asked as this server is: same port, or same instance
    partner = p.partner.port !== undefined ? p.partner : { host: p.partner.host, port, instance: p.instance };
  }
  return { port, requireHa, partner };
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
