// A host name to its addresses, inside the run's deadline and without a thread that could hold
// the exit. As glibc does with "hosts: files dns": /etc/hosts first (read here, as glibc's files
// source reads it), then DNS through c-ares (a node:dns Resolver: its queries are sockets on the
// event loop). dns.lookup is never called: it is getaddrinfo on libuv's threadpool, which an exit
// waits for, and glibc's resolver timeouts (5 s a try) know nothing of the deadline. Other NSS
// sources (mDNS, LDAP, NIS, systemd-resolved's module) are not consulted.
import { openSync, fstatSync, readFileSync, closeSync, constants } from 'node:fs';
import { isIP } from 'node:net';
import { hostname } from 'node:os';
import { domainToASCII } from 'node:url';
import type { Resolver } from 'node:dns/promises';
import { ProbeFailure } from './types.ts';

export interface Address {
  address: string;
  family: 4 | 6;
}

export const HOSTS_FILE = '/etc/hosts';
export const RESOLV_CONF = '/etc/resolv.conf';

/** RFC 8305's Resolution Delay: once one family has answered, how long the other may still take. */
const RESOLUTION_DELAY_MS = 50;

/** A name that did not resolve; `code` is TIMEOUT when the deadline came first. */
export class ResolveError extends ProbeFailure {
  constructor(message: string, code: 'EDNS' | 'TIMEOUT' = 'EDNS') {
    super({ code, message });
  }
}

/** A system file's text; '' when it is missing, unreadable or not a regular file (a FIFO would block). */
function readText(path: string): string {
  let fd: number | undefined;
  try {
    fd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK | constants.O_NOCTTY);
    return fstatSync(fd).isFile() ? readFileSync(fd, 'latin1') : '';
  } catch {
    return ''; // glibc goes on to the next source as well
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

/**
 * The addresses /etc/hosts gives `name`: every line that has it as its canonical name or an alias,
 * compared without regard to case, IPv4 and IPv6, in file order (glibc's files source, which since
 * 2.26 returns every matching line).
 */
export function hostsAddresses(text: string, name: string): Address[] {
  const want = name.toLowerCase();
  const out: Address[] = [];
  for (const line of text.split('\n')) {
    const [address, ...names] = line.replace(/#.*/, '').trim().split(/\s+/);
    const family = isIP(address);
    if (family === 0 || !names.some((n) => n.toLowerCase() === want)) continue;
    if (!out.some((a) => a.address === address)) out.push({ address, family: family as 4 | 6 });
  }
  return out;
}

export interface ResolvConf {
  nameservers: string[];
  search: string[];
  ndots: number;
}

/**
 * What resolv.conf(5) says about the search: "domain" and "search" exclude each other (the last
 * one wins); without either, the domain of the host's own name; "options ndots:N" (1, at most 15).
 */
export function parseResolvConf(text: string, ownHostname = hostname()): ResolvConf {
  const conf: ResolvConf = { nameservers: [], search: [], ndots: 1 };
  let search: string[] | undefined;
  for (const line of text.split('\n')) {
    if (/^[#;]/.test(line)) continue; // a comment starts in the first column
    const [key, ...values] = line.trim().split(/\s+/);
    if (key === 'nameserver' && values[0]) conf.nameservers.push(values[0]);
    else if (key === 'domain') search = values.slice(0, 1);
    else if (key === 'search') search = values;
    else if (key === 'options') {
      for (const v of values) {
        const m = /^ndots:(\d+)$/.exec(v);
        if (m) conf.ndots = Math.min(15, Number(m[1]));
      }
    }
  }
  if (search === undefined) {
    const dot = ownHostname.indexOf('.');
    search = dot > 0 ? [ownHostname.slice(dot + 1)] : [];
  }
  conf.search = [...new Set(search.map((d) => d.replace(/\.+$/, '')).filter((d) => d !== ''))];
  return conf;
}

/**
 * The names DNS is asked, in order, as glibc's res_search does: a name ending in a dot only as it
 * is; one with at least ndots dots as it is, then with each search domain; a shorter one with
 * each search domain first, then as it is.
 */
export function searchNames(name: string, conf: Pick<ResolvConf, 'search' | 'ndots'>): string[] {
  if (name.endsWith('.')) return [name.replace(/\.+$/, '')];
  const dots = name.split('.').length - 1;
  const searched = conf.search.map((d) => `${name}.${d}`);
  return [...new Set(dots >= conf.ndots ? [name, ...searched] : [...searched, name])];
}

type Outcome = { addresses: Address[] } | { error: NodeJS.ErrnoException };

/** A and AAAA for one name, asked together; an empty list when neither exists (the codes tell why). */
function queryName(resolver: Resolver, name: string): Promise<Outcome[]> {
  return new Promise((resolve) => {
    const outcomes: Outcome[] = [];
    let delay: NodeJS.Timeout | undefined;
    const settle = (o: Outcome) => {
      outcomes.push(o);
      const found = outcomes.some((x) => 'addresses' in x && x.addresses.length > 0);
      if (outcomes.length === 2) {
        clearTimeout(delay);
        resolve(outcomes);
      } else if (found) {
        delay = setTimeout(() => resolve(outcomes), RESOLUTION_DELAY_MS);
      }
    };
    const ask = (family: 4 | 6) => (family === 6 ? resolver.resolve6(name) : resolver.resolve4(name)).then(
      (list) => settle({ addresses: list.map((address) => ({ address, family })) }),
      (error: NodeJS.ErrnoException) => settle({ error }));
    ask(6);
    ask(4);
  });
}

/**
 * The addresses of `host`: an address literal as it is; otherwise /etc/hosts, then DNS, ending by
 * the deadline (a ResolveError with code TIMEOUT). `timeoutText` is the run's wording for that.
 */
export async function resolveHost(host: string, remainingMs: () => number, timeoutText: () => string): Promise<Address[]> {
  const literal = isIP(host);
  if (literal !== 0) return [{ address: host, family: literal as 4 | 6 }];
  const name = domainToASCII(host) || host;

  const fromFile = hostsAddresses(readText(HOSTS_FILE), name);
  if (fromFile.length > 0) return fromFile;

  const conf = parseResolvConf(readText(RESOLV_CONF));
  const names = searchNames(name, conf);
  // Each server gets two tries (glibc's default attempts). c-ares (1.34, in Node 24) waits up to
  // about twice `timeout` for a try (measured), so the tries of all the servers fit the time left
  // at about 4 timeouts a server, and a second server is asked after a quarter of it.
  const servers = Math.max(1, conf.nameservers.length);
  const timeout = Math.max(50, Math.min(5000, Math.floor(remainingMs() / (4 * servers))));
  const dns = process.getBuiltinModule('node:dns/promises'); // loaded only for a name
  const resolver = new dns.Resolver({ timeout, tries: 2 });
  let timedOut = false;
  const deadline = setTimeout(() => {
    timedOut = true;
    resolver.cancel();
  }, Math.max(0, remainingMs()));
  try {
    let nodata = false;
    let servfail = false;
    for (const n of names) {
      const outcomes = await queryName(resolver, n);
      if (timedOut) throw new ResolveError(timeoutText(), 'TIMEOUT');
      const addresses = outcomes.flatMap((o) => ('addresses' in o ? o.addresses : []));
      if (addresses.length > 0) return addresses;
      const codes = outcomes.map((o) => ('error' in o ? o.error.code : 'ENODATA'));
      // As res_search: a name that does not exist or has no address, or a server failure, goes
      // on to the next name; anything else (no answer, refused) ends the search.
      const other = codes.find((c) => c !== 'ENOTFOUND' && c !== 'ENODATA' && c !== 'ESERVFAIL');
      if (other !== undefined) throw new ResolveError(`${host}: ${dnsProblem(other, resolver.getServers())} (asked for ${n})`);
      nodata ||= codes.includes('ENODATA');
      servfail ||= codes.includes('ESERVFAIL');
    }
    const asked = names.length > 1 ? ` (asked for ${names.join(', ')})` : '';
    if (nodata) throw new ResolveError(`${host} has no IPv4 or IPv6 address in DNS${asked}`);
    if (servfail) throw new ResolveError(`${host}: the DNS server failed (SERVFAIL)${asked}`);
    throw new ResolveError(`${host} not found (not in ${HOSTS_FILE}, and DNS has no such name)${asked}`);
  } finally {
    clearTimeout(deadline);
    resolver.cancel(); // a family still unanswered after the resolution delay
  }
}

function dnsProblem(code: string, servers: string[]): string {
  const who = servers.length > 0 ? servers.join(', ') : 'none configured';
  switch (code) {
    case 'ETIMEOUT': return `no answer from the DNS servers (${who})`;
    case 'ECONNREFUSED': return `the DNS servers (${who}) refused the query (nothing listens on port 53)`;
    case 'EREFUSED': return `the DNS servers (${who}) refused to answer`;
    default: return `DNS lookup failed (${code}, servers ${who})`;
  }
}
