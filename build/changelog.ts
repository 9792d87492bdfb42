// CHANGELOG.md is the one changelog: the man page takes its date from the newest entry, and the
// Debian and RPM changelogs are generated from it. Format: "## VERSION - YYYY-MM-DD" headings,
// each followed by "- " items (continuation lines indented).
import { readFileSync } from 'node:fs';

export interface Release {
  version: string;
  date: string; // YYYY-MM-DD
  items: string[]; // plain text, markdown backticks removed
}

export function readChangelog(path: string): Release[] {
  const releases: Release[] = [];
  let current: Release | undefined;
  for (const [i, line] of readFileSync(path, 'utf8').split('\n').entries()) {
    const head = /^## (\S+) - (\d{4}-\d{2}-\d{2})\s*$/.exec(line);
    if (head) {
      current = { version: head[1], date: head[2], items: [] };
      releases.push(current);
    } else if (current === undefined || line.trim() === '') {
      continue; // the preamble, and blank lines
    } else if (line.startsWith('- ')) {
      current.items.push(plain(line.slice(2)));
    } else if (/^\s+\S/.test(line) && current.items.length > 0) {
      current.items[current.items.length - 1] += ' ' + plain(line);
    } else {
      throw new Error(`${path}:${i + 1}: expected "## VERSION - YYYY-MM-DD" or a "- " item, got: ${line}`);
    }
  }
  if (releases.length === 0) throw new Error(`${path}: no "## VERSION - YYYY-MM-DD" entry`);
  for (const r of releases) {
    if (r.items.length === 0) throw new Error(`${path}: entry ${r.version} lists no changes`);
  }
  return releases;
}

/** The newest entry, which must describe `version` (the one in package.json). */
export function currentRelease(path: string, version: string): Release {
  const newest = readChangelog(path)[0];
  if (newest.version !== version) {
    throw new Error(`${path}: newest entry is ${newest.version}, but package.json says ${version}; add a "## ${version} - YYYY-MM-DD" entry`);
  }
  return newest;
}

function plain(text: string): string {
  return text.trim().replaceAll('`', '');
}

/** Greedy word wrap: first line after `first`, the rest after `rest`. */
export function wrap(text: string, width: number, first: string, rest: string): string[] {
  const lines: string[] = [];
  let line = first;
  for (const word of text.split(/\s+/).filter(Boolean)) {
    const prefix = lines.length === 0 ? first : rest;
    if (line.length > prefix.length && line.length + 1 + word.length > width) {
      lines.push(line);
      line = rest + word;
    } else {
      line += (line.length > prefix.length ? ' ' : '') + word;
    }
  }
  lines.push(line);
  return lines;
}

const DAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

function utcDate(date: string): Date {
  const d = new Date(`${date}T00:00:00Z`);
  if (Number.isNaN(d.getTime())) throw new Error(`not a date: ${date}`);
  return d;
}

/** Seconds since the epoch at midnight UTC of the release day (for SOURCE_DATE_EPOCH). */
export function epochOf(date: string): number {
  return utcDate(date).getTime() / 1000;
}

/** "Wed, 25 Nov 2026 00:00:00 +0000", as Debian changelogs want. */
export function rfc5322(date: string): string {
  const d = utcDate(date);
  return `${DAYS[d.getUTCDay()]}, ${String(d.getUTCDate()).padStart(2, '0')} ${MONTHS[d.getUTCMonth()]} ${d.getUTCFullYear()} 00:00:00 +0000`;
}

/** "Wed Nov 25 2026", as RPM %changelog wants. */
export function rpmDate(date: string): string {
  const d = utcDate(date);
  return `${DAYS[d.getUTCDay()]} ${MONTHS[d.getUTCMonth()]} ${String(d.getUTCDate()).padStart(2, '0')} ${d.getUTCFullYear()}`;
}
