import minimist from 'minimist';
import pkg from '../package.json' with { type: 'json' };

export const USAGE = `Usage: mssql-role-check [OPTION]...
Exit 0 when this SQL Server should receive traffic, 1 otherwise.

  -h, --help       show this help and exit
  -V, --version    show the version and the embedded Node.js version and exit
`;

export function versionLine(): string {
  return `mssql-role-check ${pkg.version} (node ${process.versions.node})`;
}

function main(argv: string[]): number {
  const args = minimist(argv, { boolean: ['help', 'version'], alias: { h: 'help', V: 'version' } });
  if (args.version) {
    process.stdout.write(versionLine() + '\n');
    return 0;
  }
  if (args.help) {
    process.stdout.write(USAGE);
    return 0;
  }
  process.stderr.write('mssql-role-check: the check is not built yet; see --help\n');
  return 1;
}

process.exitCode = main(process.argv.slice(2));
