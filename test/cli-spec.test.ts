// The option table as data: every option has a parser and every parser an option, toSettings
// reads every setting the table defines, the lists of words are the ones the parsers accept, and
// an option name that is not in the table does not compile.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync, closeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { OPTIONS, parseOptions, ENCRYPT_MODES, TLS_VERSIONS, ROLE_WORDS, ROLE_ALIASES, FLAG_WORDS, MIRRORING_STATES } from '../src/cli-spec.ts';
import type { Given, OptionName, Parsed } from '../src/cli-spec.ts';
import { toSettings } from '../src/settings.ts';
import type { Settings } from '../src/settings.ts';
import { collect } from '../src/options.ts';
import { parseConfig } from '../src/config-file.ts';
import { UsageError } from '../src/errors.ts';

let dir: string;
before(() => {
  dir = mkdtempSync(join(tmpdir(), 'cli-spec-test-'));
  writeFileSync(join(dir, 'password'), 'from-file\n', { mode: 0o600 });
  writeFileSync(join(dir, 'ca.pem'), '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n');
});
after(() => rmSync(dir, { recursive: true, force: true }));

type Values = Map<OptionName, Given[]>;
const given = (name: OptionName, ...list: string[]): [OptionName, Given[]] => [name, list.map((value) => ({ value, origin: `--${name}` }))];
const BASE: Array<[OptionName, Given[]]> = [given('host', 'sqla'), given('user', 'monitor'), given('password', 'pw'), given('database', 'Sales')];
const valuesOf = (...extra: Array<[OptionName, Given[]]>): Values => new Map([...BASE, ...extra]);

function settings(values: Values): Settings {
  const s = toSettings(values);
  if (s.logFd !== undefined) closeSync(s.logFd);
  delete s.logFd; // a number that differs from run to run
  return s;
}

// The options read by collect() itself, before any setting is made.
const COLLECTED: OptionName[] = ['config', 'help', 'version'];

/**
 * For every other option: a value (and the options it needs) that makes toSettings say something
 * it would not say without it. A key that is no option, or an option without a row, does not compile.
 */
const SAMPLES: Record<Exclude<OptionName, 'config' | 'help' | 'version'>, { value: string; with?: Array<[OptionName, Given[]]> }> = {
  host: { value: 'sqlb' },
  port: { value: '1533' },
  instance: { value: 'PROD' },
  user: { value: 'other' },
  'password-file': { value: '@DIR@/password' },
  password: { value: 'pw2' },
  domain: { value: 'CORP' },
  encrypt: { value: 'strict' },
  'trust-server-certificate': { value: 'true' },
  'ca-file': { value: '@DIR@/ca.pem' },
  'tls-min-version': { value: '1.1' },
  'application-name': { value: 'lb' },
  timeout: { value: '5' },
  database: { value: 'Other' },
  role: { value: 'mirror' },
  'mirroring-state': { value: 'SYNCHRONIZED' },
  'max-lag': { value: '5', with: [given('role', 'secondary')] },
  'require-ha': { value: 'true', with: [given('role', 'secondary')] },
  'allow-standalone': { value: 'true' },
  partner: { value: 'sqlb' },
  'maintenance-file': { value: '/run/drain' },
  weight: { value: '3' },
  verbose: { value: 'true' },
  json: { value: 'true' },
  'log-file': { value: '@DIR@/check.log' },
};

test('every option has a parser, and every parsed value belongs to an option', () => {
  for (const o of OPTIONS) assert.equal(typeof o.parse, 'function', `--${o.name} has no parser`);
  const parsed = parseOptions(valuesOf());
  assert.deepEqual(Object.keys(parsed).sort(), OPTIONS.map((o) => o.name).sort());
  assert.equal(new Set(OPTIONS.map((o) => o.name)).size, OPTIONS.length, 'an option defined twice');
  const shorts = OPTIONS.flatMap((o) => (o.short ? [o.short] : []));
  assert.equal(new Set(shorts).size, shorts.length, 'a short option used twice');
});

test('toSettings reads every option it is given (collect reads --config, --help and --version)', () => {
  const names = [...Object.keys(SAMPLES), ...COLLECTED].sort();
  assert.deepEqual(names, OPTIONS.map((o) => o.name).sort(), 'SAMPLES and COLLECTED name every option once');
  for (const [name, sample] of Object.entries(SAMPLES) as Array<[OptionName, (typeof SAMPLES)[keyof typeof SAMPLES]]>) {
    const context = sample.with ?? [];
    const value = sample.value.replace('@DIR@', dir);
    const without = settings(valuesOf(...context));
    const withIt = settings(valuesOf(...context, given(name, value)));
    assert.notDeepEqual(withIt, without, `--${name} ${value} changes nothing in the settings`);
  }
  // the collected ones do what they say
  assert.equal(collect(['--help'], {}).help, true);
  assert.equal(collect(['--version'], {}).version, true);
  assert.throws(() => collect(['--config', join(dir, 'missing.conf')], {}), UsageError);
});

test('each list of words is the one its option accepts, and its placeholder lists the same words', () => {
  for (const o of OPTIONS.filter((x) => x.choices)) {
    const choices = o.choices!;
    if (o.default !== undefined) assert.ok(choices.includes(o.default), `--${o.name}: default ${o.default} is not a choice`);
    if (o.arg!.includes('|')) assert.deepEqual(o.arg!.split('|').sort(), [...choices].sort(), `--${o.name}: ${o.arg} vs ${choices}`);
    for (const word of choices) {
      assert.doesNotThrow(() => parseOptions(valuesOf(given(o.name, word))), `--${o.name} ${word}`);
      assert.doesNotThrow(() => parseOptions(valuesOf(given(o.name, word.toUpperCase()))), `--${o.name} ${word.toUpperCase()}`);
    }
    assert.throws(() => parseOptions(valuesOf(given(o.name, 'none-of-them'))), UsageError);
  }
  assert.deepEqual(OPTIONS.find((o) => o.name === 'encrypt')!.choices, ENCRYPT_MODES);
  assert.deepEqual(OPTIONS.find((o) => o.name === 'tls-min-version')!.choices, TLS_VERSIONS);
  assert.deepEqual(OPTIONS.find((o) => o.name === 'role')!.choices, ROLE_WORDS);
  assert.deepEqual(OPTIONS.find((o) => o.name === 'mirroring-state')!.choices, MIRRORING_STATES);
  for (const [alias, role] of Object.entries(ROLE_ALIASES)) assert.equal(parseOptions(valuesOf(given('role', alias))).role, role);
});

test('a flag in a config file takes exactly the flag words', () => {
  for (const [truth, words] of [[true, FLAG_WORDS.true], [false, FLAG_WORDS.false]] as const) {
    for (const word of words) {
      const [entry] = parseConfig(`json = ${word.toUpperCase()}`, 'test.conf');
      assert.equal(parseOptions(valuesOf(given(entry.name, entry.value))).json, truth, word);
    }
  }
  assert.throws(() => parseOptions(valuesOf(given('json', 'maybe'))), /expected true or false, not "maybe"/);
});

test('option names are typed: a misspelled one does not compile', () => {
  const values: Values = valuesOf();
  // @ts-expect-error "databse" is no option name
  assert.equal(values.get('databse'), undefined);
  // @ts-expect-error nor is "Database": option names are lower case
  assert.throws(() => toSettings(new Map([['Database', [{ value: 'Sales', origin: 'x' }]]])));
  // the parsed values are keyed by the same names, with the parsers' types
  const parsed: Parsed = parseOptions(values);
  const port: number | undefined = parsed.port;
  const databases: string[] = parsed.database;
  assert.equal(port, undefined);
  assert.deepEqual(databases, ['Sales']);
  // @ts-expect-error no parser makes a "databse"
  assert.equal(parsed.databse, undefined);
});
