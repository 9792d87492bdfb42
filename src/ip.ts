// net.isIP without loading node:net: --help, --version and a bad option never pay for Node's
// socket and stream modules. IPv6 is left to the URL parser, which Node has loaded anyway.
const OCTET = '(25[0-5]|2[0-4]\\d|1\\d\\d|[1-9]?\\d)';
const IPV4 = new RegExp(`^${OCTET}(\\.${OCTET}){3}$`);

/** 4, 6, or 0 when host is not an IP address literal (a zone id as in fe80::1%eth0 is allowed). */
export function ipFamily(host: string): 0 | 4 | 6 {
  if (IPV4.test(host)) return 4;
  if (!host.includes(':')) return 0;
  const pct = host.indexOf('%');
  const address = pct < 0 ? host : host.slice(0, pct);
  if (pct >= 0 && !/^%[0-9A-Za-z._~-]+$/.test(host.slice(pct))) return 0;
  if (!/^[0-9A-Fa-f:.]+$/.test(address)) return 0;
  try {
    new URL(`http://[${address}]/`);
    return 6;
  } catch {
    return 0;
  }
}
