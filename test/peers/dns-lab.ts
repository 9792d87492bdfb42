// Network namespaces for name-resolution tests: one "servers" namespace (a fake DNS server, sqlsim,
// its SQL Server Browser) and client namespaces, each with its own /etc/hosts and
// /etc/resolv.conf (`ip netns exec` bind-mounts /etc/netns/NS/* over /etc/*), joined to the
// servers by a veth pair:
//
//   client k  10.215.k.2 / fd00:215:k::2  ──veth──  10.215.k.1 / fd00:215:k::1  servers
//                                                    10.215.100.1, fd00:215:100::1 (on its lo: SVC4, SVC6)
//
// HOLE4 (10.217.0.1) and HOLE6 (fd00:217::1) are black holes: each client routes them through a
// neighbour with a made-up MAC address, so every packet is dropped without an answer (no ICMP, no
// RST), as a firewall that drops would. Names carry a random tag; destroy() (and a process-exit
// hook) removes the namespaces and their /etc/netns directories whatever happened.
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { uniqueTag } from './harness.ts';

export const SVC4 = '10.215.100.1';
export const SVC6 = 'fd00:215:100::1';
export const HOLE4 = '10.217.0.1';
export const HOLE6 = 'fd00:217::1';

export interface ClientSpec {
  role: string;
  /** /etc/resolv.conf; `{dns}` stands for the servers' address on this client's link */
  resolvConf: string;
  hosts: string;
}

export interface DnsLab {
  server: string;
  /** role → namespace */
  clients: Record<string, string>;
  destroy(): void;
}

const created = new Set<string>();
process.on('exit', () => {
  for (const ns of created) {
    spawnSync('ip', ['netns', 'delete', ns], { timeout: 5000 });
    rmSync(join('/etc/netns', ns), { recursive: true, force: true });
  }
});

function ip(args: string[]): void {
  execFileSync('ip', args, { timeout: 10_000, stdio: ['ignore', 'pipe', 'pipe'] });
}

export function createDnsLab(specs: ClientSpec[]): DnsLab {
  const tag = uniqueTag();
  const server = `mrc-dns-s-${tag}`;
  const lab: DnsLab = { server, clients: {}, destroy };
  const namespaces = [server];
  function destroy(): void {
    for (const ns of namespaces) {
      spawnSync('ip', ['netns', 'delete', ns], { timeout: 5000 });
      rmSync(join('/etc/netns', ns), { recursive: true, force: true });
      created.delete(ns);
    }
  }
  try {
    ip(['netns', 'add', server]);
    created.add(server);
    ip(['-n', server, 'link', 'set', 'lo', 'up']);
    ip(['-n', server, 'addr', 'add', `${SVC4}/32`, 'dev', 'lo']);
    ip(['-n', server, '-6', 'addr', 'add', `${SVC6}/128`, 'dev', 'lo']);
    specs.forEach((spec, i) => {
      const k = i + 1;
      const ns = `mrc-dns-c${k}-${tag}`;
      ip(['netns', 'add', ns]);
      created.add(ns);
      namespaces.push(ns);
      lab.clients[spec.role] = ns;
      const sDev = `mrcs${tag}${k}`;
      const cDev = `mrcc${tag}${k}`;
      ip(['link', 'add', sDev, 'type', 'veth', 'peer', 'name', cDev]);
      ip(['link', 'set', sDev, 'netns', server]);
      ip(['link', 'set', cDev, 'netns', ns]);
      ip(['-n', server, 'addr', 'add', `10.215.${k}.1/24`, 'dev', sDev]);
      ip(['-n', server, '-6', 'addr', 'add', `fd00:215:${k}::1/64`, 'dev', sDev, 'nodad']);
      ip(['-n', server, 'link', 'set', sDev, 'up']);
      ip(['-n', ns, 'link', 'set', 'lo', 'up']);
      ip(['-n', ns, 'addr', 'add', `10.215.${k}.2/24`, 'dev', cDev]);
      ip(['-n', ns, '-6', 'addr', 'add', `fd00:215:${k}::2/64`, 'dev', cDev, 'nodad']);
      ip(['-n', ns, 'link', 'set', cDev, 'up']);
      ip(['-n', ns, 'route', 'add', `${SVC4}/32`, 'via', `10.215.${k}.1`]);
      ip(['-n', ns, '-6', 'route', 'add', `${SVC6}/128`, 'via', `fd00:215:${k}::1`]);
      // the black holes: a gateway whose MAC address no interface has
      ip(['-n', ns, 'neigh', 'add', `10.215.${k}.99`, 'lladdr', '02:00:00:00:00:99', 'dev', cDev, 'nud', 'permanent']);
      ip(['-n', ns, 'route', 'add', '10.217.0.0/24', 'via', `10.215.${k}.99`]);
      ip(['-n', ns, '-6', 'neigh', 'add', `fd00:215:${k}::99`, 'lladdr', '02:00:00:00:00:99', 'dev', cDev, 'nud', 'permanent']);
      ip(['-n', ns, '-6', 'route', 'add', 'fd00:217::/64', 'via', `fd00:215:${k}::99`]);
      const etc = join('/etc/netns', ns);
      mkdirSync(etc, { recursive: true });
      writeFileSync(join(etc, 'resolv.conf'), spec.resolvConf.replaceAll('{dns}', `10.215.${k}.1`));
      writeFileSync(join(etc, 'hosts'), spec.hosts);
    });
  } catch (e) {
    destroy();
    throw e;
  }
  return lab;
}
