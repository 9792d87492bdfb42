// The serve config: the one-shot's "name = value" lines in sections. Names before the first
// section are defaults for every target; [NAME] starts a target whose names override them (a name
// given in a section replaces the default's values whole); [group NAME] a group of targets.
// Each target's values go through the one-shot's own validation (settings.ts toSettings), with
// origins "FILE line N: name"; the serve-only names are checked here.
import { join } from 'node:path';
import { OPTIONS } from '../cli-spec.ts';
import { parseConfig, readPrivateFile } from '../config-file.ts';
import type { ConfigEntry } from '../config-file.ts';
import { toSettings, show } from '../settings.ts';
import type { Settings, Role } from '../settings.ts';
import type { Ask } from './state.ts';
import { defaultAsk } from './state.ts';
import type { Given } from '../options.ts';
import { UsageError } from '../errors.ts';
import { ipFamily } from '../ip.ts';

export const DEFAULT_CONFIG = '/etc/mssql-role-check/serve.conf';
export const DEFAULT_LISTEN = '127.0.0.1:8008';
/** the credential a target without a password reads from $CREDENTIALS_DIRECTORY (systemd LoadCredential=) */
export const DEFAULT_CREDENTIAL = 'mssql-password';

/** Where a serve-only name may be written. */
export type Scope = 'defaults' | 'target' | 'group';

export interface ServeOptionSpec {
  name: string;
  arg: string;
  /** the sections it may appear in: the defaults (before the first section), a target, a group */
  scopes: Scope[];
  default?: string;
  help: string;
}

/** The names only serve knows (the one-shot's are in src/cli-spec.ts). */
export const SERVE_OPTIONS: ServeOptionSpec[] = [
  { name: 'listen', arg: 'ADDRESS:PORT', scopes: ['defaults'], default: DEFAULT_LISTEN,
    help: 'the HTTP listener: an IPv4 address, or [IPv6], and a port (0: any free port, logged at start); only a loopback address unless written here' },
  { name: 'interval', arg: 'SECONDS', scopes: ['defaults', 'target'], default: '1',
    help: 'seconds between the starts of two polls of a target (fractions allowed, 0.1..3600)' },
  { name: 'max-age', arg: 'SECONDS', scopes: ['defaults', 'target'],
    help: 'facts older than this are never served as a pass (default: 3 x interval; at least interval)' },
  { name: 'password-credential', arg: 'NAME', scopes: ['defaults', 'target'],
    help: `read the password from $CREDENTIALS_DIRECTORY/NAME (systemd LoadCredential=); a target with no password, password-file or password-credential reads $CREDENTIALS_DIRECTORY/${DEFAULT_CREDENTIAL} when CREDENTIALS_DIRECTORY is set` },
  { name: 'members', arg: 'TARGET, ...', scopes: ['group'], help: 'the targets of a group' },
];

/**
 * One-shot names that mean nothing to the daemon, refused with the reason: its answers are the
 * HTTP bodies (json), its log is stderr (log-file, and -v on the serve command line), and each
 * server is a target polled on its own (partner would be a second poll per target).
 */
export const NOT_FOR_SERVE: Record<string, string> = {
  json: 'the JSON answers are the HTTP bodies (GET /TARGET/ROLE)',
  'log-file': 'serve logs to stderr (the journal under systemd)',
  verbose: 'give -v on the serve command line',
  partner: 'each server is a target of its own; --partner is for the one-shot check',
};

/** Target names that would shadow an endpoint. */
export const RESERVED_NAMES = ['group', 'health', 'metrics', 'targets'];
const NAME = /^[A-Za-z0-9_.-]{1,64}$/;

export interface TargetConfig {
  name: string;
  /** the line of its [NAME] */
  line: number;
  settings: Settings;
  intervalMs: number;
  maxAgeMs: number;
  /** the one-shot values as toSettings took them, less the password and CA file (askFor re-judges a request's role options with them) */
  values: Map<string, Given[]>;
  /** what a request for each role asks when it adds no parameter */
  asks: Record<Role, Ask>;
}

export interface GroupConfig {
  name: string;
  line: number;
  members: string[];
}

export interface ServeConfig {
  path: string;
  listen: { host: string; port: number };
  targets: TargetConfig[];
  groups: GroupConfig[];
  /** every password of every target, for scrubbing logs and answers */
  secrets: string[];
  /** the serve-only values of the defaults section, for the names #15 adds (agent-listen, ...) */
  serveDefaults: Map<string, ConfigEntry>;
  /** per target or group name, its own serve-only values */
  serveValues: Map<string, Map<string, ConfigEntry>>;
}

interface Section {
  kind: 'defaults' | 'target' | 'group';
  name: string;
  line: number;
  /** the section's one-shot lines at their own positions, every other line blank (so parseConfig numbers them right) */
  oneShot: string[];
  serve: Map<string, ConfigEntry>;
}

const serveSpec = new Map(SERVE_OPTIONS.map((o) => [o.name, o]));

/** Split the text into sections; the one-shot lines of each are judged by config-file.ts parseConfig. */
function sections(text: string, path: string): Section[] {
  const lines = text.replace(/^\uFEFF/, '').split('\n');
  const blank = () => lines.map(() => '');
  const out: Section[] = [{ kind: 'defaults', name: '', line: 0, oneShot: blank(), serve: new Map() }];
  const seen = new Map<string, number>();
  lines.forEach((raw, i) => {
    const line = i + 1;
    const where = `${path} line ${line}`;
    const t = raw.replace(/\r$/, '').trim();
    if (t === '' || t.startsWith('#')) return;
    const current = out.at(-1)!;
    if (t.startsWith('[')) {
      const m = /^\[\s*(?:(group)\s+)?([^\s\]]*)\s*\]$/.exec(t);
      if (!m) throw new UsageError(`${where}: expected a section header [NAME] or [group NAME]`);
      const [, group, name] = m;
      if (!NAME.test(name) || /^\.+$/.test(name)) throw new UsageError(`${where}: ${show(name)} is no ${group ? 'group' : 'target'} name (1 to 64 of A-Z a-z 0-9 _ . -, not only dots)`);
      if (!group && RESERVED_NAMES.includes(name.toLowerCase())) throw new UsageError(`${where}: a target may not be named ${show(name)} (${RESERVED_NAMES.join(', ')} are endpoints)`);
      const key = `${group ? 'group ' : ''}${name}`;
      if (seen.has(key)) throw new UsageError(`${where}: [${key}] is already a section, on line ${seen.get(key)}`);
      seen.set(key, line);
      out.push({ kind: group ? 'group' : 'target', name, line, oneShot: blank(), serve: new Map() });
      return;
    }
    const eq = t.indexOf('=');
    const name = eq < 0 ? '' : t.slice(0, eq).trim();
    const spec = serveSpec.get(name);
    if (!spec) {
      if (name in NOT_FOR_SERVE) throw new UsageError(`${where}: "${name}" is not a serve setting: ${NOT_FOR_SERVE[name]}`);
      if (current.kind === 'group' && eq >= 0) throw new UsageError(`${where}: a [group] section takes only "members"`);
      current.oneShot[i] = raw; // parseConfig judges it, with its line number
      return;
    }
    const value = t.slice(eq + 1).trim();
    if (!spec.scopes.includes(current.kind)) {
      const allowed = spec.scopes.map((s) => (s === 'defaults' ? 'before the first section' : s === 'target' ? 'in a [target]' : 'in a [group]')).join(' or ');
      throw new UsageError(`${where}: "${name}" belongs ${allowed}`);
    }
    if (t.includes('\uFFFD')) throw new UsageError(`${where}: not UTF-8 text (save the file as UTF-8)`);
    if (/(^|\s)#/.test(value)) throw new UsageError(`${where}: ${name}: "#" in the value (a comment goes on a line of its own)`);
    const before = current.serve.get(name);
    if (before) throw new UsageError(`${where}: "${name}" is already set on line ${before.line}`);
    current.serve.set(name, { name, value, line });
  });
  return out;
}

const DECIMAL = /^(\d+(\.\d*)?|\.\d+)$/;

function seconds(e: ConfigEntry, path: string, min: number, max: number): number {
  const v = Number(e.value);
  if (!DECIMAL.test(e.value) || v < min || v > max) {
    throw new UsageError(`${path} line ${e.line}: ${e.name}: expected seconds ${min}..${max} (fractions allowed), not ${show(e.value)}`);
  }
  return v;
}

/** listen = ADDRESS:PORT: an IP address (no name to resolve), [v6] in brackets. */
export function parseListen(value: string, origin: string): { host: string; port: number } {
  const m = /^\[([^\]]+)\]:(\d{1,5})$/.exec(value) ?? /^([^:[\]]+):(\d{1,5})$/.exec(value);
  const family = m ? ipFamily(m[1]) : 0;
  if (!m || family === 0 || (family === 6 && !value.startsWith('[')) || Number(m[2]) > 65535) {
    throw new UsageError(`${origin}: expected an IP address and a port (127.0.0.1:8008, [::1]:8008), not ${show(value)}`);
  }
  return { host: m[1], port: Number(m[2]) };
}

const PASSWORD_NAMES = ['password', 'password-file', 'password-credential'];

/** The one-shot values of one target: defaults, then its section; the password as one setting. */
function targetValues(defaults: ConfigEntry[], own: ConfigEntry[], serveDefaults: Map<string, ConfigEntry>, serveOwn: Map<string, ConfigEntry>,
  path: string, env: NodeJS.ProcessEnv, where: string): Map<string, Given[]> {
  const values = new Map<string, Given[]>();
  const add = (entries: ConfigEntry[], into: Map<string, Given[]>) => {
    for (const e of entries) {
      const list = into.get(e.name) ?? [];
      list.push({ value: e.value, origin: `${path} line ${e.line}: ${e.name}` });
      into.set(e.name, list);
    }
  };
  const fromDefaults = new Map<string, Given[]>();
  const fromOwn = new Map<string, Given[]>();
  add(defaults, fromDefaults);
  add(own, fromOwn);
  for (const o of OPTIONS) {
    if (PASSWORD_NAMES.includes(o.name)) continue;
    const v = fromOwn.get(o.name) ?? fromDefaults.get(o.name);
    if (v) values.set(o.name, v);
  }
  // The password: password, password-file or password-credential; the section's beats the defaults' whole.
  const level = (m: Map<string, Given[]>, serve: Map<string, ConfigEntry>): Array<{ name: string; given: Given }> => {
    const given = ['password', 'password-file'].filter((n) => m.has(n)).map((name) => ({ name, given: m.get(name)![0] }));
    const c = serve.get('password-credential');
    if (c) given.push({ name: 'password-credential', given: { value: c.value, origin: `${path} line ${c.line}: password-credential` } });
    if (given.length > 1) throw new UsageError(`${given[1].given.origin}: give one of password, password-file or password-credential, not several`);
    return given;
  };
  const own1 = level(fromOwn, serveOwn);
  const chosen = (own1.length > 0 ? own1 : level(fromDefaults, serveDefaults))[0];
  const dir = env.CREDENTIALS_DIRECTORY;
  const credential = (name: string, origin: string): Given => {
    if (!dir) throw new UsageError(`${origin}: CREDENTIALS_DIRECTORY is not set (systemd sets it for LoadCredential=)`);
    if (!/^[A-Za-z0-9_.-]{1,255}$/.test(name) || /^\.+$/.test(name)) throw new UsageError(`${origin}: ${show(name)} is no credential name`);
    return { value: join(dir, name), origin };
  };
  if (chosen?.name === 'password-credential') values.set('password-file', [credential(chosen.given.value, chosen.given.origin)]);
  else if (chosen) values.set(chosen.name, [chosen.given]);
  else if (dir) values.set('password-file', [credential(DEFAULT_CREDENTIAL, `${where}: $CREDENTIALS_DIRECTORY/${DEFAULT_CREDENTIAL}`)]);
  else throw new UsageError(`${where}: no password: give password, password-file or password-credential (serve reads no MSSQL_PASSWORD)`);
  return values;
}

/** Parse and validate a serve config text; every problem is a UsageError naming the file and line. */
export function parseServeConfig(text: string, path: string, env: NodeJS.ProcessEnv = process.env): ServeConfig {
  const all = sections(text, path);
  const entries = all.map((s) => parseConfig(s.oneShot.join('\n'), path));
  const [defaults, ...rest] = all;
  const listenEntry = defaults.serve.get('listen');
  const listen = parseListen(listenEntry?.value ?? DEFAULT_LISTEN, listenEntry ? `${path} line ${listenEntry.line}: listen` : 'listen');
  const targets: TargetConfig[] = [];
  const groups: GroupConfig[] = [];
  const serveValues = new Map<string, Map<string, ConfigEntry>>();
  rest.forEach((sec, i) => {
    serveValues.set(sec.kind === 'group' ? `group ${sec.name}` : sec.name, sec.serve);
    if (sec.kind === 'group') {
      const m = sec.serve.get('members');
      if (!m) throw new UsageError(`${path} line ${sec.line}: [group ${sec.name}] has no "members = TARGET, ..."`);
      groups.push({ name: sec.name, line: sec.line, members: m.value.split(',').map((x) => x.trim()) });
      return;
    }
    const where = `${path} line ${sec.line}: [${sec.name}]`;
    const values = targetValues(entries[0], entries[i + 1], defaults.serve, sec.serve, path, env, where);
    let settings: Settings;
    try {
      settings = toSettings(values);
    } catch (err) {
      // a value's problem names its line; a missing value names the section
      if (err instanceof UsageError && !err.message.startsWith(`${path} line `)) throw new UsageError(`${where}: ${err.message}`);
      throw err;
    }
    const pick = (n: string) => sec.serve.get(n) ?? defaults.serve.get(n);
    const interval = pick('interval');
    const intervalS = interval ? seconds(interval, path, 0.1, 3600) : 1;
    const maxAge = pick('max-age');
    const maxAgeS = maxAge ? seconds(maxAge, path, 0.1, 86400) : 3 * intervalS;
    if (maxAgeS < intervalS) {
      throw new UsageError(`${path} line ${maxAge!.line}: max-age: ${maxAgeS} s is less than the interval (${intervalS} s): every answer between two polls would be stale`);
    }
    // toSettings again for each request's role options, without reading any file again
    const judged = new Map(values);
    for (const n of ['password-file', 'ca-file']) judged.delete(n);
    judged.set('password', [{ value: '-', origin: 'password' }]);
    const t: TargetConfig = { name: sec.name, line: sec.line, settings, intervalMs: Math.round(intervalS * 1000), maxAgeMs: Math.round(maxAgeS * 1000), values: judged, asks: {} as Record<Role, Ask> };
    for (const r of ROLES) t.asks[r] = askFor(t, r);
    targets.push(t);
  });
  if (targets.length === 0) throw new UsageError(`${path}: no target: add a section [NAME] with the server's host (and what else differs from the defaults)`);
  const names = new Set(targets.map((t) => t.name));
  for (const g of groups) {
    for (const m of g.members) {
      if (!names.has(m)) throw new UsageError(`${path} line ${g.line}: [group ${g.name}]: members: ${show(m)} is no target of this file`);
    }
  }
  const secrets = [...new Set(targets.map((t) => t.settings.password))];
  return { path, listen, targets, groups, secrets, serveDefaults: defaults.serve, serveValues };
}

export const ROLES: Role[] = ['primary', 'secondary', 'mirror', 'online'];
/** The options that apply to some roles only: a target's own are dropped when a request asks another role. */
const ROLE_ONLY = ['mirroring-state', 'max-lag', 'allow-standalone', 'partner'];

/**
 * What a request for `role` asks of target t, with `given` (the request's parameters: max-lag,
 * mirroring-state, database) in place of the target's own values: judged by the one-shot's
 * toSettings, so the same values are accepted and refused with the same words. A UsageError
 * names the parameter.
 */
export function askFor(t: TargetConfig, role: Role, given: Map<string, Given[]> = new Map()): Ask {
  const values = new Map(t.values);
  if (role !== t.settings.role) for (const n of ROLE_ONLY) values.delete(n);
  values.set('role', [{ value: role, origin: 'role' }]);
  for (const [n, v] of given) values.set(n, v);
  return defaultAsk(toSettings(values));
}

/** Read the serve config: the same permission rules as the one-shot's config file (0600, or 0640 root:GROUP). */
export function readServeConfig(path: string, env: NodeJS.ProcessEnv = process.env): ServeConfig {
  return parseServeConfig(readPrivateFile(path, 'config file'), path, env);
}
