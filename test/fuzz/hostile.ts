// Generated hostile values for the bad-input table: what an attacker, a broken template or a
// careless copy-paste can put on a command line or into a config file. Values are bytes because
// some of them are not valid UTF-8 (they reach the binary through a shell script, see rawArgv).
import { writeFileSync, chmodSync } from 'node:fs';
import { join } from 'node:path';
import type { OptionName } from '../../src/cli-spec.ts';

export interface Hostile {
  label: string;
  bytes: Buffer;
}

const b = (s: string) => Buffer.from(s, 'utf8');

/** Values for any option; argv cannot carry NUL, so NUL appears only in the config-file cases. */
export const HOSTILE_TEXT: Hostile[] = [
  { label: 'empty', bytes: b('') },
  { label: 'long 100k', bytes: b('x'.repeat(100_000)) },
  { label: 'long 300', bytes: b('y'.repeat(300)) },
  { label: 'newline', bytes: b('a\nb') },
  { label: 'carriage return', bytes: b('a\rb') },
  { label: 'escape sequences', bytes: b('\x1b[2J\x1b[31mred\x07') },
  { label: 'C0 controls', bytes: Buffer.from([0x01, 0x02, 0x08, 0x0b, 0x0c, 0x7f, 0x41]) },
  { label: 'unicode line separators', bytes: b('a\u2028b\u2029c\u0085d') },
  { label: 'bidi override', bytes: b('\u202eevil') },
  { label: 'invalid UTF-8', bytes: Buffer.from([0xff, 0xfe, 0xc0, 0x80, 0xed, 0xa0, 0x80, 0x61]) },
  { label: 'lone continuation bytes', bytes: Buffer.from([0x80, 0x80, 0xbf]) },
  { label: 'option-like', bytes: b('--json') },
  { label: 'format string', bytes: b('%s%n%x%p') },
  { label: 'shell', bytes: b('$(id)`id`${HOME}') },
  { label: 'SQL', bytes: b("appdb'; DROP DATABASE appdb;--]") },
  // climbs out of the case directory to a directory that does not exist: the tests run as root,
  // and --log-file appends to whatever it names (never name a real file here)
  { label: 'path traversal', bytes: b('../../../../../../../../../../nonexistent-mrc-dir/passwd') },
];

/** Values that look like numbers but are not valid ones here (for the numeric options). */
export const HOSTILE_NUMBERS: Hostile[] = [
  { label: 'huge integer', bytes: b('99999999999999999999999999999999') },
  { label: 'huge exponent', bytes: b('1e400') },
  { label: 'tiny exponent', bytes: b('1e-400') },
  { label: 'negative', bytes: b('-1') },
  { label: 'negative zero', bytes: b('-0') },
  { label: 'hex', bytes: b('0x10') },
  { label: 'plus sign', bytes: b('+5') },
  { label: 'surrounding spaces', bytes: b(' 5 ') },
  { label: 'non-ASCII digits', bytes: b('\u0661\u0662\u0663') },
  { label: 'NaN', bytes: b('NaN') },
  { label: 'Infinity', bytes: b('Infinity') },
  { label: '2^53+1', bytes: b('9007199254740993') },
  { label: '2^32+1', bytes: b('4294967297') },
  { label: 'fraction', bytes: b('2.5') },
];

export const NUMERIC_OPTIONS = ['port', 'timeout', 'weight', 'max-lag'] as const satisfies readonly OptionName[];

/** Options that take a value (hostile values go there); --config and --password-file are files. */
export const VALUE_OPTIONS = [
  'host', 'port', 'instance', 'user', 'domain', 'encrypt', 'ca-file', 'application-name', 'timeout',
  'database', 'role', 'mirroring-state', 'max-lag', 'maintenance-file', 'weight', 'log-file', 'config', 'password-file', 'partner',
] as const satisfies readonly OptionName[];

/** Hostile values for the config file, where NUL and broken lines can appear too. */
export const HOSTILE_CONFIG_LINES: Hostile[] = [
  { label: 'NUL in value', bytes: b('database = app\0db') },
  { label: 'NUL in name', bytes: b('data\0base = appdb') },
  { label: 'NUL alone', bytes: Buffer.from([0]) },
  { label: 'NUL in port', bytes: b('timeout = 1\0') },
  { label: 'invalid UTF-8 name', bytes: Buffer.concat([Buffer.from([0xff, 0xfe]), b(' = 1')]) },
  { label: 'invalid UTF-8 role', bytes: Buffer.concat([b('role = '), Buffer.from([0xc0, 0xaf])]) },
  { label: 'control chars in name', bytes: b('\x1b[31mrole\x07 = mirror') },
  { label: 'carriage return in name', bytes: b('ro\rle = primary') },
  { label: 'no equals sign', bytes: b('database appdb') },
  { label: 'missing name', bytes: b('= appdb') },
  { label: 'unknown setting', bytes: b('databse = appdb') },
  { label: 'command-line-only setting', bytes: b('config = /etc/other.conf') },
  { label: 'help in config', bytes: b('help = true') },
  { label: 'duplicate setting', bytes: b('timeout = 1\ntimeout = 2') },
  { label: 'conflicting port and instance', bytes: b('instance = SQL1') },
  { label: 'password and password-file', bytes: b('password-file = /nonexistent') },
  { label: 'huge port', bytes: b('port = 99999999999999999999') },
  { label: 'huge timeout', bytes: b('timeout = 1e400') },
  { label: 'weight out of range', bytes: b('weight = 254') },
  { label: 'flag with a bad value', bytes: b('require-ha = maybe') },
  { label: 'very long line', bytes: b('application-name = ' + 'z'.repeat(60_000)) },
  { label: 'bigger than 64 KiB', bytes: b('# ' + 'c'.repeat(70_000)) },
  { label: 'role bad', bytes: b('role = leader') },
  { label: 'encrypt bad', bytes: b('encrypt = maybe') },
];

/**
 * Write a script that execs `bin` with these exact argument bytes (Node can only pass valid
 * UTF-8 strings as arguments; the shell passes bytes through untouched).
 */
export function rawArgvScript(dir: string, name: string, bin: string, args: Buffer[]): string {
  const quote = (x: Buffer) => {
    const parts: Buffer[] = [b("'")];
    for (const byte of x) parts.push(byte === 0x27 ? b("'\\''") : Buffer.from([byte]));
    parts.push(b("'"));
    return Buffer.concat(parts);
  };
  const script = Buffer.concat([b('exec '), quote(b(bin)), ...args.flatMap((a) => [b(' '), quote(a)]), b('\n')]);
  const path = join(dir, `${name}.sh`);
  writeFileSync(path, script);
  chmodSync(path, 0o700);
  return path;
}
