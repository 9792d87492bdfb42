// --help and --version text, generated from the option table in cli-spec.ts.
import { OPTIONS, GROUPS, EXIT_CODES, ENVIRONMENT, EXAMPLES } from './cli-spec.ts';
import type { OptionSpec } from './cli-spec.ts';
import pkg from '../package.json' with { type: 'json' };

export function versionLine(): string {
  return `mssql-role-check ${pkg.version} (node ${process.versions.node})`;
}

/** "  -H, --host=HOST" — the left column of one option. */
export function optionSynopsis(o: OptionSpec): string {
  const short = o.short ? `-${o.short}, ` : '    ';
  return `  ${short}--${o.name}${o.arg ? `=${o.arg}` : ''}`;
}

function wrap(text: string, width: number, indent: string): string[] {
  const lines: string[] = [];
  let line = '';
  for (const word of text.split(/\s+/)) {
    if (line && line.length + 1 + word.length > width) {
      lines.push(line);
      line = word;
    } else {
      line = line ? `${line} ${word}` : word;
    }
  }
  if (line) lines.push(line);
  return lines.map((l, i) => (i === 0 ? l : indent + l));
}

export function usage(): string {
  const col = 32;
  const out: string[] = [
    'Usage: mssql-role-check [OPTION]...',
    '       mssql-role-check serve [--config FILE] [--check-config] [-v]',
    'Exit 0 when this SQL Server should receive traffic for every --database named, 1 otherwise.',
    'keepalived (MISC_CHECK, vrrp_script) and HAProxy (external-check) run it every few seconds.',
    'serve is a daemon that polls every server of FILE and answers the same question over HTTP',
    '(HAProxy httpchk and agent-check, keepalived HTTP_GET); see mssql-role-check serve --help.',
    '',
  ];
  for (const g of GROUPS) {
    out.push(`${g.title}:`);
    for (const o of OPTIONS.filter((x) => x.group === g.name && !x.configOnly)) {
      let help = o.help;
      if (o.default !== undefined && !/\(default/.test(help)) help += ` (default: ${o.default})`;
      if (o.repeatable) help += ' [repeatable]';
      const left = optionSynopsis(o);
      const body = wrap(help, 78 - col, ' '.repeat(col));
      if (left.length < col - 1) out.push(left.padEnd(col) + body.join('\n'));
      else out.push(left, ' '.repeat(col) + body.join('\n'));
    }
    out.push('');
  }
  out.push(
    'Config file (--config FILE): one "name = value" per line with the long option names above,',
    '"#" starts a comment line (a "#" after a value is refused, except in a password);',
    'repeatable names may repeat; flags take true or false.',
    '"password = ..." is accepted only there. Command-line options override the file, the file',
    'overrides the environment. The file and --password-file must be mode 0600, or 0640 owned by',
    'root with the group of the user that runs the check (chown root:GROUP, chmod 640); nothing',
    'for others.',
    '',
    'Exit status:',
  );
  for (const e of EXIT_CODES) out.push(`  ${e.code.padEnd(6)}` + wrap(e.meaning, 70, ' '.repeat(8)).join('\n'));
  out.push('', 'Environment:');
  for (const e of ENVIRONMENT) out.push(`  ${e.name}`, `        ${wrap(e.meaning, 70, ' '.repeat(8)).join('\n')}`);
  out.push('', 'Examples:');
  for (const ex of EXAMPLES) {
    out.push(`  ${ex.title}:`);
    for (const l of ex.text.split('\n')) out.push(`    ${l}`);
  }
  out.push('');
  return out.join('\n');
}
