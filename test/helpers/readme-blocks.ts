// The README's code blocks, so that tests run the commands an operator copies, not a retyped copy.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT } from './paths.ts';

export const README = readFileSync(join(ROOT, 'README.md'), 'utf8');

/** The fenced code blocks of the README section whose heading is `heading` (any level), in order. */
export function codeBlocks(heading: string, lang?: string): string[] {
  const lines = README.split('\n');
  const start = lines.findIndex((l) => /^#+ /.test(l) && l.replace(/^#+ /, '') === heading);
  if (start < 0) throw new Error(`README has no section "${heading}"`);
  const level = /^#+/.exec(lines[start])![0].length;
  const blocks: string[] = [];
  let block: string[] | undefined;
  let keep = false;
  for (const l of lines.slice(start + 1)) {
    if (!block && new RegExp(`^#{1,${level}} `).test(l)) break;
    const fence = /^```(\w*)$/.exec(l);
    if (!block && fence) { block = []; keep = lang === undefined || fence[1] === lang; continue; }
    if (block && l === '```') { if (keep) blocks.push(block.join('\n') + '\n'); block = undefined; continue; }
    block?.push(l);
  }
  return blocks;
}

/** The first code block of the README (the set-up commands), one command per line. */
export function firstCommands(): string[] {
  const m = /^```sh\n([\s\S]*?)^```$/m.exec(README);
  if (!m) throw new Error('README has no sh code block');
  return m[1].split('\n').filter((l) => l.trim() !== '');
}

/** Replace each `from` with its `to`, insisting that every `from` occurs (a renamed path fails loudly). */
export function substitute(text: string, pairs: [string | RegExp, string][]): string {
  for (const [from, to] of pairs) {
    const found = typeof from === 'string' ? text.includes(from) : from.test(text);
    if (!found) throw new Error(`the README text no longer contains ${from}:\n${text}`);
    text = typeof from === 'string' ? text.replaceAll(from, to) : text.replace(new RegExp(from.source, from.flags.includes('g') ? from.flags : from.flags + 'g'), to);
  }
  return text;
}
