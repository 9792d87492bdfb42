// Command line + config file + environment → raw values, each tagged with where it came from.
// Precedence: command line > config file > environment (MSSQL_*) > defaults (applied later, in
// settings.ts); for host and port, HAProxy's HAPROXY_SERVER_* come right after the command line.
// Nothing is validated here beyond the option names.
import minimist from 'minimist';
import { OPTIONS } from './cli-spec.ts';
import type { OptionSpec, OptionName, Given } from './cli-spec.ts';
import { readConfigFile } from './config-file.ts';
import { UsageError } from './errors.ts';

export type { Given } from './cli-spec.ts';

export interface Collected {
  help: boolean;
  version: boolean;
  values: Map<OptionName, Given[]>;
}

export type Env = Record<string, string | undefined>;

const PASSWORD_ON_ARGV =
  '--password is not accepted on the command line (other users can read it in ps); ' +
  'use --password-file FILE, the MSSQL_PASSWORD environment variable, or "password = ..." in a --config file';

const byName = new Map<string, OptionSpec>(OPTIONS.map((o) => [o.name, o]));
const byShort = new Map<string, OptionSpec>(OPTIONS.filter((o) => o.short).map((o) => [o.short!, o]));

const looksLikeNumber = (s: string) => /^-[\d.]/.test(s);

/**
 * GNU-style normalisation before minimist: "--name VALUE" and "-n VALUE" become "--name=VALUE"
 * (so a negative number is taken as the value, to be judged by settings.ts), and forms minimist
 * would accept silently but we do not ("--no-json", "--json=yes", "--password") are refused here.
 */
function normalise(argv: string[]): { args: string[]; positional: string[] } {
  const args: string[] = [];
  const positional: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const t = argv[i];
    if (t === '--') {
      positional.push(...argv.slice(i + 1));
      break;
    }
    let spec: OptionSpec | undefined;
    let hasValue = false;
    if (t.startsWith('--')) {
      const eq = t.indexOf('=');
      const name = eq < 0 ? t.slice(2) : t.slice(2, eq);
      hasValue = eq >= 0;
      spec = byName.get(name);
      if (name === 'password' || spec?.configOnly) throw new UsageError(PASSWORD_ON_ARGV);
      if (!spec) throw new UsageError(`unknown option --${name.slice(0, 40)}`);
      if (!spec.arg && hasValue) throw new UsageError(`option --${name} takes no value`);
    } else if (/^-[^-]$/.test(t)) {
      spec = byShort.get(t[1]);
    }
    const next = argv[i + 1];
    if (spec?.arg && !hasValue && next !== undefined && (!next.startsWith('-') || looksLikeNumber(next))) {
      args.push(`--${spec.name}=${next}`);
      i++;
      continue;
    }
    args.push(t);
  }
  return { args, positional };
}

function parseCommandLine(argv: string[]): { values: Map<OptionName, Given[]>; positional: string[] } {
  const { args, positional } = normalise(argv);
  let problem: string | undefined;
  const parsed = minimist(args, {
    string: OPTIONS.filter((o) => o.arg).map((o) => o.name),
    boolean: OPTIONS.filter((o) => !o.arg).map((o) => o.name),
    alias: Object.fromEntries(OPTIONS.filter((o) => o.short).map((o) => [o.short!, o.name])),
    unknown: (arg: string) => {
      if (arg.startsWith('-') && arg !== '-') {
        if (!arg.startsWith('--')) {
          const letter = [...arg.slice(1)].find((c) => !byShort.has(c)) ?? arg.slice(1);
          problem ??= `unknown option -${letter}`;
        } else {
          problem ??= `unknown option ${arg.split('=')[0].slice(0, 42)}`;
        }
      } else {
        positional.push(arg);
      }
      return false;
    },
  });
  if (problem) throw new UsageError(problem);
  const values = new Map<OptionName, Given[]>();
  for (const o of OPTIONS) {
    const v = parsed[o.name];
    if (v === undefined || v === false) continue;
    if (v === true) {
      values.set(o.name, [{ value: 'true', origin: `--${o.name}` }]);
      continue;
    }
    const list = (Array.isArray(v) ? v : [v]).map((x) => String(x));
    if (list.length > 1 && !o.repeatable) throw new UsageError(`option --${o.name} is given more than once`);
    values.set(o.name, list.map((value) => ({ value, origin: `--${o.name}` })));
  }
  return { values, positional };
}

function fromConfig(path: string): Map<OptionName, Given[]> {
  const values = new Map<OptionName, Given[]>();
  for (const e of readConfigFile(path)) {
    const list = values.get(e.name) ?? [];
    list.push({ value: e.value, origin: `${path} line ${e.line}: ${e.name}` });
    values.set(e.name, list);
  }
  return values;
}

const envValue = (env: Env, name: string): Given[] | undefined =>
  env[name] ? [{ value: env[name]!, origin: name }] : undefined;

export function collect(argv: string[], env: Env): Collected {
  const cli = parseCommandLine(argv);
  const help = cli.values.has('help');
  const version = cli.values.has('version');
  if (help || version) return { help, version, values: cli.values };

  const haproxy = Boolean(env.HAPROXY_SERVER_ADDR);
  if (cli.positional.length > 0 && !haproxy) {
    throw new UsageError('unexpected argument on the command line (options take the form --name VALUE; ' +
      'positional arguments are accepted only from HAProxy external-check, with HAPROXY_SERVER_ADDR set)');
  }
  if (cli.positional.length > 4) {
    throw new UsageError('too many arguments: HAProxy external-check passes four (proxy address, proxy port, server address, server port)');
  }

  const configGiven = cli.values.get('config')?.[0] ?? envValue(env, 'MSSQL_ROLE_CHECK_CONFIG')?.[0];
  if (configGiven && configGiven.value === '') throw new UsageError(`${configGiven.origin} needs a file name`);
  const file = configGiven ? fromConfig(configGiven.value) : new Map<OptionName, Given[]>();

  const values = new Map<OptionName, Given[]>();
  for (const o of OPTIONS) {
    if (o.name === 'password' || o.name === 'password-file') continue;
    const v = cli.values.get(o.name) ?? file.get(o.name);
    if (v) values.set(o.name, v);
  }

  // The password is one setting with three spellings; the strongest source wins whole.
  if (cli.values.has('password-file')) {
    values.set('password-file', cli.values.get('password-file')!);
  } else if (file.has('password') && file.has('password-file')) {
    throw new UsageError(`${file.get('password-file')![0].origin}: give either "password" or "password-file" in the config file, not both`);
  } else if (file.has('password')) {
    values.set('password', file.get('password')!);
  } else if (file.has('password-file')) {
    values.set('password-file', file.get('password-file')!);
  } else if (env.MSSQL_PASSWORD) {
    values.set('password', [{ value: env.MSSQL_PASSWORD, origin: 'MSSQL_PASSWORD' }]);
  }

  if (!values.has('user') && env.MSSQL_USER) values.set('user', envValue(env, 'MSSQL_USER')!);

  // HAProxy external-check: the server to check is in the environment (the arguments repeat it).
  // It beats a host or port in the config file, which is there for runs by hand: a config file
  // shared by every server of a backend must not make each check look at the same server.
  if (!cli.values.has('host') && haproxy) {
    values.set('host', envValue(env, 'HAPROXY_SERVER_ADDR')!);
    // HAProxy says 0 for a server line without a port: then a port in the file may say which
    const hapPort = env.HAPROXY_SERVER_PORT;
    if (!cli.values.has('port') && !values.has('instance') && hapPort && !(hapPort === '0' && values.has('port'))) {
      values.set('port', envValue(env, 'HAPROXY_SERVER_PORT')!);
    }
  }
  return { help: false, version: false, values };
}
