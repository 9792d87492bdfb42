// Two load-balancer "hosts" as network namespaces joined by a veth pair. Names carry a random tag
// so parallel runs never collide; destroy() (and a process-exit hook) deletes them whatever happened.
import { execFileSync, spawnSync } from 'node:child_process';
import { uniqueTag } from './harness.ts';

export interface LbHost {
  ns: string;
  dev: string;
  ip: string;
}

export interface LbPair {
  a: LbHost;
  b: LbHost;
  vip: string;
  prefix: number;
  destroy(): void;
}

function ip(args: string[]): string {
  return execFileSync('ip', args, { encoding: 'utf8', timeout: 10_000, stdio: ['ignore', 'pipe', 'pipe'] });
}

const created = new Set<string>();
process.on('exit', () => { for (const ns of created) spawnSync('ip', ['netns', 'delete', ns], { timeout: 5000 }); });

/** Whether this process may create namespaces (root with CAP_NET_ADMIN, as in CI). */
export function canCreateNetns(): { ok: boolean; why: string } {
  if (process.getuid?.() !== 0) return { ok: false, why: 'not running as root' };
  const r = spawnSync('unshare', ['--net', 'true'], { timeout: 5000 });
  return r.status === 0 ? { ok: true, why: '' } : { ok: false, why: `unshare --net failed: ${r.stderr}` };
}

export function createLbPair(): LbPair {
  const tag = uniqueTag();
  const a: LbHost = { ns: `mrc-lb-a-${tag}`, dev: `mrca${tag}`, ip: '10.213.0.1' };
  const b: LbHost = { ns: `mrc-lb-b-${tag}`, dev: `mrcb${tag}`, ip: '10.213.0.2' };
  const pair: LbPair = {
    a, b, vip: '10.213.0.100', prefix: 24,
    destroy() {
      for (const h of [a, b]) {
        spawnSync('ip', ['netns', 'delete', h.ns], { timeout: 5000 });
        created.delete(h.ns);
      }
      // the veth pair goes with its namespaces; this covers a failure before the move
      spawnSync('ip', ['link', 'delete', a.dev], { timeout: 5000, stdio: 'ignore' });
    },
  };
  try {
    for (const h of [a, b]) {
      ip(['netns', 'add', h.ns]);
      created.add(h.ns);
    }
    ip(['link', 'add', a.dev, 'type', 'veth', 'peer', 'name', b.dev]);
    for (const h of [a, b]) {
      ip(['link', 'set', h.dev, 'netns', h.ns]);
      ip(['-n', h.ns, 'addr', 'add', `${h.ip}/${pair.prefix}`, 'dev', h.dev]);
      ip(['-n', h.ns, 'link', 'set', h.dev, 'up']);
      ip(['-n', h.ns, 'link', 'set', 'lo', 'up']);
    }
  } catch (e) {
    pair.destroy();
    throw e;
  }
  return pair;
}

/** The IPv4 addresses on `dev` inside namespace `ns`. */
export function addressesOf(h: LbHost): string[] {
  const out = ip(['-n', h.ns, '-4', '-o', 'addr', 'show', 'dev', h.dev]);
  return [...out.matchAll(/inet (\d+\.\d+\.\d+\.\d+)\//g)].map((m) => m[1]);
}

export function namespaceExists(ns: string): boolean {
  return ip(['netns', 'list']).split('\n').some((l) => l.split(' ')[0] === ns);
}
