// The user-facing surface as data: --help, the man page and the option parser all read it,
// so the three cannot drift apart.

/** sys.database_mirroring.mirroring_state_desc, as documented: --mirroring-state and the verdict read this list. */
export const MIRRORING_STATES = ['SUSPENDED', 'DISCONNECTED', 'SYNCHRONIZING', 'PENDING_FAILOVER', 'SYNCHRONIZED', 'UNSYNCHRONIZED'] as const;

export interface OptionSpec {
  name: string; // long name, also the config-file key
  short?: string;
  arg?: string; // placeholder for the value; absent for a flag
  repeatable?: boolean;
  default?: string;
  choices?: string[]; // the accepted values, when they are a fixed set (case-insensitive)
  cliOnly?: boolean; // not accepted in a config file
  configOnly?: boolean; // accepted only in a config file (never on a command line)
  group: 'connection' | 'check' | 'output' | 'general';
  help: string;
}

export const OPTIONS: OptionSpec[] = [
  { name: 'host', short: 'H', arg: 'HOST', group: 'connection',
    help: 'SQL Server host name (from /etc/hosts, else DNS) or IPv4/IPv6 address (default: $HAPROXY_SERVER_ADDR, set by HAProxy)' },
  { name: 'port', short: 'p', arg: 'PORT', default: '1433', group: 'connection',
    help: 'TCP port (default: $HAPROXY_SERVER_PORT, else 1433)' },
  { name: 'instance', short: 'I', arg: 'NAME', group: 'connection',
    help: 'named instance, resolved through SQL Server Browser (UDP 1434); excludes --port' },
  { name: 'user', short: 'U', arg: 'LOGIN', group: 'connection',
    help: 'SQL login, or Windows user with --domain' },
  { name: 'password-file', arg: 'FILE', group: 'connection',
    help: 'read the password from the first line of FILE (mode 0600, or 0640 root:GROUP of the check\'s user)' },
  { name: 'password', arg: 'PASSWORD', configOnly: true, group: 'connection',
    help: 'the password (config file only; never on the command line)' },
  { name: 'domain', arg: 'DOMAIN', group: 'connection',
    help: 'log in with Windows authentication (NTLM) in DOMAIN' },
  { name: 'encrypt', arg: 'on|strict|off', default: 'on', choices: ['off', 'on', 'strict'], group: 'connection',
    help: 'TLS: on (the default: TLS negotiated in PRELOGIN for the whole session, certificate verified; a server that cannot encrypt is refused before the login), strict (TDS 8.0, TLS first, SQL Server 2022 and later), off (no TLS: the login, password included, crosses the network in the clear; fails if the server forces encryption; -v warns)' },
  { name: 'trust-server-certificate', group: 'connection',
    help: 'with --encrypt on: accept any server certificate, a self-signed one included (SQL Server\'s own when none is installed), without verifying it; not allowed with strict, which always verifies' },
  { name: 'ca-file', arg: 'FILE', group: 'connection',
    help: 'with --encrypt on|strict: trust only the certificates in this PEM file (the CA that signs the server certificate, or the server\'s own certificate to pin it) instead of the system trust store (/etc/ssl/certs; SSL_CERT_FILE and SSL_CERT_DIR are honoured)' },
  { name: 'tls-min-version', arg: '1.0|1.1|1.2|1.3', default: '1.2', choices: ['1.0', '1.1', '1.2', '1.3'], group: 'connection',
    help: 'with --encrypt on|strict: the oldest TLS version accepted (default: 1.2). 1.0 and 1.1 (with --encrypt on only) are for SQL Server 2008-2014 builds without their TLS 1.2 update, and also lower OpenSSL\'s security level to 0 for the connection, which TLS below 1.2 needs; 1.3 needs --encrypt strict' },
  { name: 'application-name', arg: 'NAME', default: 'mssql-role-check', group: 'connection',
    help: 'program name shown to DBAs in sys.dm_exec_sessions' },
  { name: 'timeout', short: 't', arg: 'SECONDS', default: '3', group: 'connection',
    help: 'hard deadline for the whole run: DNS, TCP, TLS, login and query (fractions allowed); the run ends at most 0.5 s past it' },

  { name: 'database', short: 'd', arg: 'NAME', repeatable: true, group: 'check',
    help: 'database to check; repeat for several, every one must pass' },
  { name: 'role', short: 'r', arg: 'ROLE', default: 'primary',
    choices: ['primary', 'principal', 'secondary', 'mirror', 'online'], group: 'check',
    help: 'primary (alias principal), secondary, mirror or online' },
  { name: 'mirroring-state', arg: 'STATE', repeatable: true,
    choices: [...MIRRORING_STATES], group: 'check',
    help: 'with --role primary or mirror: allowed mirroring states, e.g. SYNCHRONIZED; repeat or comma-separate (default: any, but never PENDING_FAILOVER for primary, and DISCONNECTED only with a CONNECTED witness, --partner or --allow-standalone)' },
  { name: 'max-lag', arg: 'SECONDS', group: 'check',
    help: 'with --role secondary: the most seconds the secondary may need to redo what it has received (redo_queue_size / redo_rate of its own row)' },
  { name: 'require-ha', group: 'check',
    help: 'fail a database that is neither mirrored nor in an availability group (always so for --role primary, unless --allow-standalone)' },
  { name: 'allow-standalone', group: 'check',
    help: 'with --role primary: also pass a copy nothing guards against a second writable one: a database neither mirrored nor in an availability group, the primary of a CLUSTER_TYPE = NONE group, a principal without a witness that lost its mirror. The risk: after a broken mirror or a former replica is recovered (RESTORE ... WITH RECOVERY), or a forced failover, both copies are ONLINE and READ_WRITE, and both pass' },
  { name: 'partner', arg: 'HOST[:PORT]', group: 'check',
    help: 'with --role primary: after this server passes, ask the other server (same login and options, within the same --timeout) and fail if it claims the role too; if it cannot be asked, pass only while this server holds quorum (witness CONNECTED, or a WSFC/EXTERNAL group with this replica HEALTHY). PORT defaults to --port (or the same --instance)' },
  { name: 'maintenance-file', arg: 'PATH', group: 'check',
    help: 'while PATH (an absolute path) exists the check fails with reason "maintenance" (drain)' },
  { name: 'weight', short: 'w', arg: 'N', group: 'check',
    help: "on a pass exit N+2 (0..253) for keepalived's misc_dynamic; a failure still exits 1" },

  { name: 'verbose', short: 'v', group: 'output',
    help: 'print one line per database with the facts and the verdict to stderr (with --encrypt off each line begins with a warning that the password travelled in the clear)' },
  { name: 'json', group: 'output',
    help: 'print one JSON object (verdict, facts, timings, reason) to stdout' },
  { name: 'log-file', arg: 'PATH', group: 'output',
    help: 'append one line per run to PATH' },

  { name: 'config', short: 'c', arg: 'FILE', cliOnly: true, group: 'general',
    help: 'read "name = value" settings (long option names, # comments) from FILE (mode 0600, or 0640 root:GROUP of the check\'s user)' },
  { name: 'help', short: 'h', cliOnly: true, group: 'general', help: 'show this help and exit' },
  { name: 'version', short: 'V', cliOnly: true, group: 'general',
    help: 'show the version and the embedded Node.js version and exit' },
];

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
