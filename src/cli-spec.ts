// The user-facing surface as data: --help, the man page and the option parser all read it,
// so the three cannot drift apart. Each option carries its parser, which judges the option's own
// values (the rules across options are in settings.ts); every list of accepted words is here, once.
import { domainToASCII } from 'node:url';
import { isAbsolute } from 'node:path';
import { ipFamily } from './ip.ts';
import { UsageError } from './errors.ts';

/** sys.database_mirroring.mirroring_state_desc, as documented: --mirroring-state and the verdict read this list. */
export const MIRRORING_STATES = ['SUSPENDED', 'DISCONNECTED', 'SYNCHRONIZING', 'PENDING_FAILOVER', 'SYNCHRONIZED', 'UNSYNCHRONIZED'] as const;
/** --role's words; an alias names the role it stands for. */
export const ROLE_WORDS = ['primary', 'principal', 'secondary', 'mirror', 'online'] as const;
export const ROLE_ALIASES = { principal: 'primary' } as const;
export const ENCRYPT_MODES = ['off', 'on', 'strict'] as const;
export const TLS_VERSIONS = ['1.0', '1.1', '1.2', '1.3'] as const;
/** What a flag may say in a config file (case-insensitive); the command line gives "true". */
export const FLAG_WORDS = { true: ['true', 'yes', 'on', '1'], false: ['false', 'no', 'off', '0'] } as const;

export type Role = Exclude<(typeof ROLE_WORDS)[number], keyof typeof ROLE_ALIASES>;
export type Encrypt = (typeof ENCRYPT_MODES)[number];
export type TlsMinVersion = (typeof TLS_VERSIONS)[number];
export type MirroringState = (typeof MIRRORING_STATES)[number];

export const MAX_TIMEOUT_SECONDS = 300;

/** One value of one option; flags carry "true"/"false" (a config file may say false). */
export interface Given {
  value: string;
  /** where it came from, for messages: "--port", "app.conf line 3: port", "MSSQL_USER" */
  origin: string;
}

interface OptionDef {
  name: string; // long name, also the config-file key
  short?: string;
  arg?: string; // placeholder for the value; absent for a flag
  repeatable?: boolean;
  default?: string;
  choices?: readonly string[]; // the accepted values, when they are a fixed set (case-insensitive)
  cliOnly?: boolean; // not accepted in a config file
  configOnly?: boolean; // accepted only in a config file (never on a command line)
  /** the option's own values (none when not given) → its typed value, or a UsageError naming the origin */
  parse: (given: readonly Given[], spec: OptionDef) => unknown;
  group: 'connection' | 'check' | 'output' | 'general';
  help: string;
}

const DEFINITIONS = [
  { name: 'host', short: 'H', arg: 'HOST', parse: host, group: 'connection',
    help: 'SQL Server host name (from /etc/hosts, else DNS) or IPv4/IPv6 address (default: $HAPROXY_SERVER_ADDR, set by HAProxy)' },
  { name: 'port', short: 'p', arg: 'PORT', default: '1433', parse: port, group: 'connection',
    help: 'TCP port (default: $HAPROXY_SERVER_PORT, else 1433)' },
  { name: 'instance', short: 'I', arg: 'NAME', parse: instance, group: 'connection',
    help: 'named instance, resolved through SQL Server Browser (UDP 1434); excludes --port' },
  { name: 'user', short: 'U', arg: 'LOGIN', parse: user, group: 'connection',
    help: 'SQL login, or Windows user with --domain' },
  { name: 'password-file', arg: 'FILE', parse: passwordFile, group: 'connection',
    help: 'read the password from the first line of FILE (mode 0600, or 0640 root:GROUP of the check\'s user)' },
  { name: 'password', arg: 'PASSWORD', configOnly: true, parse: password, group: 'connection',
    help: 'the password (config file only; never on the command line)' },
  { name: 'domain', arg: 'DOMAIN', parse: domain, group: 'connection',
    help: 'log in with Windows authentication (NTLM) in DOMAIN' },
  { name: 'encrypt', arg: 'on|strict|off', default: 'on', choices: ENCRYPT_MODES,
    parse: (g, o) => choice(g, o, ENCRYPT_MODES), group: 'connection',
    help: 'TLS: on (the default: TLS negotiated in PRELOGIN for the whole session, certificate verified; a server that cannot encrypt is refused before the login), strict (TDS 8.0, TLS first, SQL Server 2022 and later), off (no TLS: the login, password included, crosses the network in the clear; fails if the server forces encryption; -v warns)' },
  { name: 'trust-server-certificate', parse: flag, group: 'connection',
    help: 'with --encrypt on: accept any server certificate, a self-signed one included (SQL Server\'s own when none is installed), without verifying it; not allowed with strict, which always verifies' },
  { name: 'ca-file', arg: 'FILE', parse: text, group: 'connection',
    help: 'with --encrypt on|strict: trust only the certificates in this PEM file (the CA that signs the server certificate, or the server\'s own certificate to pin it) instead of the system trust store (/etc/ssl/certs; SSL_CERT_FILE and SSL_CERT_DIR are honoured)' },
  { name: 'tls-min-version', arg: TLS_VERSIONS.join('|'), default: '1.2', choices: TLS_VERSIONS,
    parse: (g, o) => choice(g, o, TLS_VERSIONS), group: 'connection',
    help: 'with --encrypt on|strict: the oldest TLS version accepted (default: 1.2). 1.0 and 1.1 (with --encrypt on only) are for SQL Server 2008-2014 builds without their TLS 1.2 update, and also lower OpenSSL\'s security level to 0 for the connection, which TLS below 1.2 needs; 1.3 needs --encrypt strict' },
  { name: 'application-name', arg: 'NAME', default: 'mssql-role-check', parse: applicationName,
    group: 'connection',
    help: 'program name shown to DBAs in sys.dm_exec_sessions' },
  { name: 'timeout', short: 't', arg: 'SECONDS', default: '3', parse: timeoutMs, group: 'connection',
    help: 'hard deadline for the whole run: DNS, TCP, TLS, login and query (fractions allowed); the run ends at most 0.5 s past it' },

  { name: 'database', short: 'd', arg: 'NAME', repeatable: true, parse: databases, group: 'check',
    help: 'database to check; repeat for several, every one must pass' },
  { name: 'role', short: 'r', arg: 'ROLE', default: 'primary',
    choices: ROLE_WORDS, parse: role, group: 'check',
    help: 'primary (alias principal), secondary, mirror or online' },
  { name: 'mirroring-state', arg: 'STATE', repeatable: true,
    choices: MIRRORING_STATES, parse: mirroringStates,
    group: 'check',
    help: 'with --role primary or mirror: allowed mirroring states, e.g. SYNCHRONIZED; repeat or comma-separate (default: any, but never PENDING_FAILOVER for primary, and DISCONNECTED only with a CONNECTED witness, --partner or --allow-standalone)' },
  { name: 'max-lag', arg: 'SECONDS', parse: maxLag, group: 'check',
    help: 'with --role secondary: the most seconds the secondary may need to redo what it has received (redo_queue_size / redo_rate of its own row)' },
  { name: 'require-ha', parse: flag, group: 'check',
    help: 'fail a database that is neither mirrored nor in an availability group (always so for --role primary, unless --allow-standalone)' },
  { name: 'allow-standalone', parse: flag, group: 'check',
    help: 'with --role primary: also pass a copy nothing guards against a second writable one: a database neither mirrored nor in an availability group, the primary of a CLUSTER_TYPE = NONE group, a principal without a witness that lost its mirror. The risk: after a broken mirror or a former replica is recovered (RESTORE ... WITH RECOVERY), or a forced failover, both copies are ONLINE and READ_WRITE, and both pass' },
  { name: 'partner', arg: 'HOST[:PORT]', parse: partner, group: 'check',
    help: 'with --role primary: after this server passes, ask the other server (same login and options, within the same --timeout) and fail if it claims the role too; if it cannot be asked, pass only while this server holds quorum (witness CONNECTED, or a WSFC/EXTERNAL group with this replica HEALTHY). PORT defaults to --port (or the same --instance)' },
  { name: 'maintenance-file', arg: 'PATH', parse: maintenanceFile, group: 'check',
    help: 'while PATH (an absolute path) exists the check fails with reason "maintenance" (drain)' },
  { name: 'weight', short: 'w', arg: 'N', parse: weight, group: 'check',
    help: "on a pass exit N+2 (0..253) for keepalived's misc_dynamic; a failure still exits 1" },

  { name: 'verbose', short: 'v', parse: flag, group: 'output',
    help: 'print one line per database with the facts and the verdict to stderr (with --encrypt off each line begins with a warning that the password travelled in the clear)' },
  { name: 'json', parse: flag, group: 'output',
    help: 'print one JSON object (verdict, facts, timings, reason) to stdout' },
  { name: 'log-file', arg: 'PATH', parse: text, group: 'output',
    help: 'append one line per run to PATH' },

  { name: 'config', short: 'c', arg: 'FILE', cliOnly: true, parse: text, group: 'general',
    help: 'read "name = value" settings (long option names, # comments) from FILE (mode 0600, or 0640 root:GROUP of the check\'s user)' },
  { name: 'help', short: 'h', cliOnly: true, parse: flag, group: 'general', help: 'show this help and exit' },
  { name: 'version', short: 'V', cliOnly: true, parse: flag, group: 'general',
    help: 'show the version and the embedded Node.js version and exit' },
] as const satisfies readonly OptionDef[];

/** An option's long name: a misspelled one does not compile. */
export type OptionName = (typeof DEFINITIONS)[number]['name'];
export interface OptionSpec extends OptionDef {
  name: OptionName;
}
export const OPTIONS: readonly OptionSpec[] = DEFINITIONS;
/** Every option's parsed value, typed by its parser. */
export type Parsed = { [D in (typeof DEFINITIONS)[number] as D['name']]: ReturnType<D['parse']> };

/** The default an option's help states (the one place it is written). */
export function defaultOf(name: OptionName): string | undefined {
  return OPTIONS.find((o) => o.name === name)!.default;
}

/** Each option's parser over its own values, in the order of OPTIONS (so the first problem is reported). */
export function parseOptions(values: ReadonlyMap<OptionName, readonly Given[]>): Parsed {
  const parsed: Partial<Record<OptionName, unknown>> = {};
  for (const o of OPTIONS) parsed[o.name] = o.parse(values.get(o.name) ?? [], o);
  return parsed as Parsed;
}

export const EXIT_CODES = [
  { code: '0', meaning: 'the server should get traffic for every database named' },
  { code: '1', meaning: 'anything else: wrong role, database missing or not ONLINE, login refused, network error, timeout, maintenance, bad option or config, internal error' },
  { code: 'N+2', meaning: 'a pass with --weight N (keepalived misc_dynamic sets the real-server weight to N)' },
];

export const ENVIRONMENT = [
  { name: 'MSSQL_PASSWORD', meaning: 'the password, when neither --password-file nor the config file gives one' },
  { name: 'MSSQL_USER', meaning: 'the login, when neither --user nor the config file gives one' },
  { name: 'MSSQL_ROLE_CHECK_CONFIG', meaning: 'config file to read when --config is not given (HAProxy 2.9+ passes it with "external-check preserve-env"; older HAProxy needs the wrapper script of the examples)' },
  { name: 'HAPROXY_SERVER_ADDR', meaning: 'the host, when --host is not on the command line; it overrides a host in the config file, so that each HAProxy check looks at its own server (set by HAProxy external-check)' },
  { name: 'HAPROXY_SERVER_PORT', meaning: 'with HAPROXY_SERVER_ADDR, the port, unless --port is on the command line or an instance is given; it overrides a port in the config file, except 0, which HAProxy gives for a server without a port (set by HAProxy external-check)' },
  { name: 'SSL_CERT_FILE', meaning: 'a PEM file of trusted CAs, instead of /etc/ssl/cert.pem, in the system trust store that verifies the server certificate when --ca-file is not given' },
  { name: 'SSL_CERT_DIR', meaning: 'a directory of trusted CAs named by subject hash (openssl rehash), instead of /etc/ssl/certs, in that system trust store' },
];

export const GROUPS = [
  { name: 'connection', title: 'Connection' },
  { name: 'check', title: 'Check' },
  { name: 'output', title: 'Output' },
  { name: 'general', title: 'General' },
] as const;

/** Worked examples, for --help and the man page. */
export const EXAMPLES = [
  { title: 'By hand, to see why a server is in or out',
    text: 'MSSQL_PASSWORD=... mssql-role-check --host 10.0.0.11 --user monitor --database Sales -v' },
  { title: 'TLS is on and verified by default. A server with SQL Server\'s own self-signed certificate:\n  accept it unverified, or install a certificate on the server and pin it',
    text: 'mssql-role-check --config /etc/mssql-role-check/mssql-role-check.conf --host 10.0.0.11 --trust-server-certificate\nmssql-role-check --config /etc/mssql-role-check/mssql-role-check.conf --host 10.0.0.11 --ca-file /etc/mssql-role-check/sql1.pem' },
  { title: 'keepalived real server (the config file holds user, password, database and role; global_defs has\n  script_user mssql-role-check and enable_script_security, so the check never runs as root)',
    text: 'MISC_CHECK {\n  misc_path "/usr/bin/mssql-role-check --config /etc/mssql-role-check/mssql-role-check.conf --host 10.0.0.11"\n  misc_timeout 5\n}' },
  { title: 'keepalived VRRP: hold the virtual address on the node next to the writable server',
    text: 'vrrp_script chk_mssql {\n  script "/usr/bin/mssql-role-check --config /etc/mssql-role-check/mssql-role-check.conf --host 127.0.0.1"\n  interval 2\n  timeout 5\n  fall 2\n  rise 2\n}' },
  { title: 'HAProxy (host and port from HAPROXY_SERVER_ADDR/PORT; the wrapper haproxy-mssql-check of the examples runs\n  mssql-role-check -c /etc/mssql-role-check/mssql-role-check.conf, since HAProxy passes no options;\n  comment out the distribution\'s "chroot /var/lib/haproxy": external checks run inside it)',
    text: 'global\n  external-check\n  insecure-fork-wanted\nbackend mssql\n  mode tcp\n  option external-check\n  external-check command /usr/local/bin/haproxy-mssql-check\n  server sql1 10.0.0.11:1433 check inter 4s\n  server sql2 10.0.0.12:1433 check inter 4s' },
];

// ---------------------------------------------------------------- the options' parsers
// Each judges its own option's values only; a value that is fine alone but not with another
// option is for the cross-option rules (settings.ts). No file is read here.

/** A value shown in a message: quoted, short, one line. */
export function show(value: string): string {
  const s = value.length > 40 ? value.slice(0, 40) + '…' : value;
  return JSON.stringify(s);
}

/** A problem with one given value: the message names where it came from. */
export function fail(g: Given, what: string): never {
  throw new UsageError(`${g.origin}: ${what}`);
}

const DECIMAL = /^(\d+(\.\d*)?|\.\d+)$/;
const INTEGER = /^\d+$/;
const isPort = (p: string) => INTEGER.test(p) && Number(p) >= 1 && Number(p) <= 65535;

/** A non-empty string, or undefined when not given. */
function text(given: readonly Given[]): string | undefined {
  const g = given[0];
  if (!g) return undefined;
  if (g.value === '') fail(g, 'needs a value');
  if (g.value.includes('\0')) fail(g, 'contains a NUL character');
  return g.value;
}

function flag(given: readonly Given[]): boolean {
  const g = given[0];
  if (!g) return false;
  const v = g.value.toLowerCase();
  if ((FLAG_WORDS.true as readonly string[]).includes(v)) return true;
  if ((FLAG_WORDS.false as readonly string[]).includes(v)) return false;
  return fail(g, `expected true or false, not ${show(g.value)}`);
}

/** One word of a fixed list (the option's choices), or the option's default when not given. */
function choice<C extends string>(given: readonly Given[], spec: OptionDef, choices: readonly C[]): C {
  const v = (text(given) ?? spec.default!).toLowerCase();
  if (!(choices as readonly string[]).includes(v)) fail(given[0], `expected one of ${choices.join(', ')}, not ${show(given[0].value)}`);
  return v as C;
}

function host(given: readonly Given[]): string {
  const h = text(given);
  if (h === undefined) {
    throw new UsageError('no server to check: give --host (or "host" in the config file, or HAPROXY_SERVER_ADDR)');
  }
  return checkHost(h, given[0]);
}

/** A host as --host takes it: a name or an address ([v6] unbracketed), or a UsageError naming it. */
function checkHost(host: string, g: Given): string {
  if (/^\[.*\]$/.test(host)) host = host.slice(1, -1); // [::1]
  if (ipFamily(host) === 0) {
    if (host.includes('\\')) fail(g, `${show(host)} looks like HOST\\INSTANCE; give the instance with --instance`);
    if (/^[^:]+[:,]\d+$/.test(host)) fail(g, `${show(host)} includes a port; give it with --port`);
    if (host.startsWith('/')) fail(g, `${show(host)} is a path, not a host (a unix socket cannot be checked)`);
    const ascii = domainToASCII(host);
    // domainToASCII drops tabs and line breaks (as URLs do): "a\nb" must not become "ab"
    if (host.length > 253 || ascii === '' || /[\u0000-\u0020\u007f-\u009f\u2028\u2029]/.test(host) ||
        !/^[A-Za-z0-9_][A-Za-z0-9_-]*(\.[A-Za-z0-9_-]+)*\.?$/.test(ascii)) {
      fail(g, `${show(host)} is not a host name or IP address`);
    }
  }
  return host;
}

/** The port given, or undefined (the default depends on --instance: a cross-option rule). */
function port(given: readonly Given[]): number | undefined {
  const p = text(given);
  if (p === undefined) return undefined;
  if (!isPort(p)) fail(given[0], `expected a TCP port 1..65535, not ${show(p)}`);
  return Number(p);
}

function instance(given: readonly Given[]): string | undefined {
  const i = text(given);
  if (i !== undefined && !/^[^\s\\/:;,'"]{1,16}$/.test(i)) {
    fail(given[0], `${show(i)} is not an instance name (at most 16 characters, no spaces or \\ / : ; , quotes)`);
  }
  return i;
}

function user(given: readonly Given[]): string {
  const u = text(given);
  if (u === undefined) throw new UsageError('no login: give --user (or "user" in the config file, or MSSQL_USER)');
  if (u.length > 128) fail(given[0], 'is longer than 128 characters');
  return u;
}

/** The file's name; it is read once the options agree (settings.ts). */
function passwordFile(given: readonly Given[]): string | undefined {
  const g = given[0];
  if (g && g.value === '') fail(g, 'needs a file name');
  return g?.value;
}

function password(given: readonly Given[]): string | undefined {
  const g = given[0];
  if (g && g.value === '') fail(g, 'is empty');
  return g?.value;
}

function domain(given: readonly Given[]): string | undefined {
  const d = text(given);
  // a DNS domain name has at most 253 characters (NetBIOS names 15); the NTLM messages carry 16-bit lengths
  if (d !== undefined && d.length > 253) fail(given[0], 'is longer than 253 characters (a domain name)');
  return d;
}

function applicationName(given: readonly Given[], spec: OptionDef): string {
  const name = text(given) ?? spec.default!;
  if (name.length > 128) fail(given[0], 'is longer than 128 characters');
  return name;
}

function timeoutMs(given: readonly Given[], spec: OptionDef): number {
  const raw = text(given) ?? spec.default!;
  const seconds = Number(raw);
  if (!DECIMAL.test(raw) || !(seconds > 0) || seconds > MAX_TIMEOUT_SECONDS) {
    fail(given[0], `expected seconds greater than 0 and at most ${MAX_TIMEOUT_SECONDS} (fractions allowed), not ${show(raw)}`);
  }
  return Math.max(1, Math.round(seconds * 1000));
}

function databases(given: readonly Given[]): string[] {
  if (given.length === 0) throw new UsageError('no database to check: give --database NAME (repeat it for several)');
  return given.map((g) => {
    if (g.value === '') fail(g, 'needs a database name');
    if (g.value.includes('\0')) fail(g, 'contains a NUL character');
    if (g.value.length > 128) fail(g, `${show(g.value)} is longer than 128 characters (sysname)`);
    return g.value;
  });
}

function role(given: readonly Given[], spec: OptionDef): Role {
  const word = choice(given, spec, ROLE_WORDS);
  return word in ROLE_ALIASES ? ROLE_ALIASES[word as keyof typeof ROLE_ALIASES] : (word as Role);
}

/** Repeated or comma-separated, case-insensitive, each state once; undefined when not given. */
function mirroringStates(given: readonly Given[]): MirroringState[] | undefined {
  if (given.length === 0) return undefined;
  const states: MirroringState[] = [];
  for (const g of given) {
    for (const part of g.value.split(',')) {
      const s = part.trim().toUpperCase() as MirroringState;
      if (!MIRRORING_STATES.includes(s)) fail(g, `expected mirroring states from ${MIRRORING_STATES.join(', ')}, not ${show(part.trim())}`);
      if (!states.includes(s)) states.push(s);
    }
  }
  return states;
}

function maxLag(given: readonly Given[]): number | undefined {
  const v = text(given);
  if (v === undefined) return undefined;
  if (!DECIMAL.test(v) || Number(v) > 2 ** 31) fail(given[0], `expected seconds, 0 or more, not ${show(v)}`);
  return Number(v);
}

/** --partner HOST[:PORT] ([v6]:PORT for an IPv6 address); without a port, this server's (a cross-option rule). */
function partner(given: readonly Given[]): { host: string; port?: number } | undefined {
  const value = text(given);
  if (value === undefined) return undefined;
  const g = given[0];
  const m = /^\[([^\]]*)\](?::(.*))?$/.exec(value) ?? (ipFamily(value) === 6 ? null : /^([^:]*)(?::(.*))?$/.exec(value));
  const host = checkHost(m ? m[1] : value, g);
  const p = m?.[2];
  if (p === undefined) return { host };
  if (!isPort(p)) fail(g, `expected a TCP port 1..65535 after the host, not ${show(p)}`);
  return { host, port: Number(p) };
}

function maintenanceFile(given: readonly Given[]): string | undefined {
  const path = text(given);
  // A relative path would be looked for where keepalived starts the check (/), not where the
  // operator tried it by hand: the drain would silently never happen.
  if (path !== undefined && !isAbsolute(path)) fail(given[0], `needs an absolute path, not ${show(path)}`);
  return path;
}

function weight(given: readonly Given[]): number | undefined {
  const v = text(given);
  if (v === undefined) return undefined;
  if (!INTEGER.test(v) || Number(v) > 253) fail(given[0], `expected an integer 0..253 (exit code N+2 for keepalived misc_dynamic), not ${show(v)}`);
  return Number(v);
}
