// keepalived run for real inside a load-balancer namespace: foreground, console logging, its own
// pid files and config in a temporary directory, VRRP only, unicast to its peer.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Daemon } from './harness.ts';
import type { LbHost } from './netns.ts';

export interface VrrpSettings {
  self: LbHost;
  peer: LbHost;
  vip: string;
  prefix: number;
  /** the whole vrrp_script command line (keepalived splits it on spaces) */
  script: string;
  /** seconds between script runs */
  interval: number;
  /** keepalived kills the script past this many seconds */
  scriptTimeout: number;
  fall: number;
  rise: number;
  advertInt: number;
  routerId: number;
  /** keepalived's script_user: the unprivileged user the examples run the check as */
  scriptUser: string;
}

/**
 * One vrrp_instance tracking one vrrp_script with no weight: a failing check puts the instance
 * in FAULT (it gives up the VIP at once and cannot be elected), so the VIP can only ever sit on a
 * host whose SQL Server passes. Both hosts start as BACKUP with equal priority; with one passing
 * host there is nothing to tie-break.
 */
export function keepalivedConf(s: VrrpSettings): string {
  return `global_defs {
  router_id lb-${s.self.ns}
  enable_script_security
  script_user ${s.scriptUser}
  vrrp_garp_master_delay 0
  vrrp_garp_master_repeat 1
}

vrrp_script chk_mssql {
  script "${s.script}"
  interval ${s.interval}
  timeout ${s.scriptTimeout}
  fall ${s.fall}
  rise ${s.rise}
}

vrrp_instance VI_MSSQL {
  state BACKUP
  interface ${s.self.dev}
  virtual_router_id ${s.routerId}
  priority 100
  advert_int ${s.advertInt}
  unicast_src_ip ${s.self.ip}
  unicast_peer {
    ${s.peer.ip}
  }
  virtual_ipaddress {
    ${s.vip}/${s.prefix} dev ${s.self.dev}
  }
  track_script {
    chk_mssql
  }
}
`;
}

/** `via`: an argv prefix to run keepalived under (withCheckUser, where the script user exists). */
export function startKeepalived(dir: string, name: string, s: VrrpSettings, via: string[] = []): Daemon {
  const conf = join(dir, `${name}.conf`);
  writeFileSync(conf, keepalivedConf(s), { mode: 0o600 });
  const [cmd, ...pre] = [...via, 'ip'];
  return new Daemon(`keepalived ${name}`, cmd, [...pre, 'netns', 'exec', s.self.ns,
    'keepalived', '--vrrp', '--dont-fork', '--log-console', '--log-detail', '--no-syslog',
    '--use-file', conf,
    '--pid', join(dir, `${name}.pid`),
    '--vrrp_pid', join(dir, `${name}.vrrp.pid`),
    '--checkers_pid', join(dir, `${name}.checkers.pid`),
  ]);
}

/** Run `keepalived --config-test` on a file; returns its exit status and what it printed. */
export function configTestArgs(file: string): string[] {
  return ['--config-test', '--use-file', file];
}
