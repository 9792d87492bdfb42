// Two load-balancer "hosts" as network namespaces joined by a veth pair, and a third namespace for
// the SQL Servers, with a link to each load balancer:
//
//   lb-a 10.213.0.1 ──veth── 10.213.0.2 lb-b          (VRRP, unicast; the VIP 10.213.0.100)
//   lb-a 10.213.1.1 ──veth── 10.213.1.2 sql 10.213.2.2 ──veth── 10.213.2.1 lb-b
//
// Names carry a random tag so parallel runs never collide; destroy() (and a process-exit hook)
// deletes them whatever happened.
import { execFileSync, spawnSync } from 'node:child_process';
import assert from 'node:assert/strict';
import { uniqueTag, waitUntil, sleep } from './harness.ts';

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
  /** the SQL Servers' namespace and the address each load balancer reaches it at */
  sql: { ns: string; forA: string; forB: string };
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
  const sqlNs = `mrc-sql-${tag}`;
  const links: [LbHost, string, string, string][] = [
    // [lb host, lb side device, sql side device, subnet]
    [a, `mrcsa${tag}`, `mrcqa${tag}`, '10.213.1'],
    [b, `mrcsb${tag}`, `mrcqb${tag}`, '10.213.2'],
  ];
  const namespaces = [a.ns, b.ns, sqlNs];
  const pair: LbPair = {
    a, b, vip: '10.213.0.100', prefix: 24,
    sql: { ns: sqlNs, forA: '10.213.1.2', forB: '10.213.2.2' },
    destroy() {
      for (const ns of namespaces) {
        spawnSync('ip', ['netns', 'delete', ns], { timeout: 5000 });
        created.delete(ns);
      }
      // veth pairs go with their namespaces; this covers a failure before the move
      for (const dev of [a.dev, ...links.map((l) => l[1])]) spawnSync('ip', ['link', 'delete', dev], { timeout: 5000, stdio: 'ignore' });
    },
  };
  try {
    for (const ns of namespaces) {
      ip(['netns', 'add', ns]);
      created.add(ns);
      ip(['-n', ns, 'link', 'set', 'lo', 'up']);
    }
    ip(['link', 'add', a.dev, 'type', 'veth', 'peer', 'name', b.dev]);
    for (const h of [a, b]) {
      ip(['link', 'set', h.dev, 'netns', h.ns]);
      ip(['-n', h.ns, 'addr', 'add', `${h.ip}/${pair.prefix}`, 'dev', h.dev]);
      ip(['-n', h.ns, 'link', 'set', h.dev, 'up']);
    }
    for (const [h, lbDev, sqlDev, net] of links) {
      ip(['link', 'add', lbDev, 'type', 'veth', 'peer', 'name', sqlDev]);
      ip(['link', 'set', lbDev, 'netns', h.ns]);
      ip(['link', 'set', sqlDev, 'netns', sqlNs]);
      ip(['-n', h.ns, 'addr', 'add', `${net}.1/24`, 'dev', lbDev]);
      ip(['-n', sqlNs, 'addr', 'add', `${net}.2/24`, 'dev', sqlDev]);
      ip(['-n', h.ns, 'link', 'set', lbDev, 'up']);
      ip(['-n', sqlNs, 'link', 'set', sqlDev, 'up']);
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

export type Where = 'a' | 'b' | 'none' | 'both';

/**
 * Where the pair's VIP is, and a wait for it to settle on one place and stay there over two check
 * intervals (no flapping); every moment both held it is kept in `overlaps` (a split brain).
 */
export function vipWatcher(pair: () => LbPair, o: { intervalS: number; limitMs: number; onFail: () => void }) {
  const overlaps: string[] = [];
  const vipIsOn = (): Where => {
    const a = addressesOf(pair().a).includes(pair().vip);
    const b = addressesOf(pair().b).includes(pair().vip);
    const w: Where = a && b ? 'both' : a ? 'a' : b ? 'b' : 'none';
    if (w === 'both') overlaps.push(new Date().toISOString());
    return w;
  };
  const vipSettlesOn = async (want: Where, what: string): Promise<number> => {
    try {
      const ms = await waitUntil(`the VIP on ${want} (${what})`, () => vipIsOn() === want, o.limitMs + 10_000, 50);
      const until = performance.now() + 2 * o.intervalS * 1000;
      while (performance.now() < until) {
        assert.equal(vipIsOn(), want, `the VIP left ${want} again (${what})`);
        await sleep(100);
      }
      return ms;
    } catch (e) {
      o.onFail();
      throw e;
    }
  };
  return { overlaps, vipIsOn, vipSettlesOn };
}

export function namespaceExists(ns: string): boolean {
  return ip(['netns', 'list']).split('\n').some((l) => l.split(' ')[0] === ns);
}
