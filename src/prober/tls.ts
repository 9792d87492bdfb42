// The TLS versions the check accepts, and the one-line reason when a server speaks none of them.
import type { SecureContextOptions } from 'node:tls';
import type { Settings } from '../settings.ts';

const NODE_VERSION = { '1.0': 'TLSv1', '1.1': 'TLSv1.1', '1.2': 'TLSv1.2', '1.3': 'TLSv1.3' } as const;

/**
 * The secure-context options for tedious (its cryptoCredentialsDetails), or undefined without TLS.
 * The floor is always set, so that nothing but the option lowers it (not Node's --tls-min-v1.0,
 * say, should the code ever run under a Node with such flags). OpenSSL 3 refuses TLS 1.0 and 1.1
 * at every security level above 0 (OpenSSL's SSL_CTX_set_security_level(3), level 1; Node's tls
 * docs, "OpenSSL security level"), so --tls-min-version 1.0 or 1.1, and nothing else, lowers the
 * level to 0, for this connection only, on Node's own cipher list. The ceiling stays the
 * driver's: TLS 1.2 inside PRELOGIN (tedious caps it there), 1.3 with strict.
 */
export function tlsCredentials(s: Pick<Settings, 'encrypt' | 'tlsMinVersion' | 'ca'>): SecureContextOptions | undefined {
  if (s.encrypt === 'off') return undefined;
  const options: SecureContextOptions = { minVersion: NODE_VERSION[s.tlsMinVersion] };
  if (s.tlsMinVersion === '1.0' || s.tlsMinVersion === '1.1') {
    // node:tls loads on first use (build/levers.mjs, lazy): read its default list only here
    options.ciphers = `${process.getBuiltinModule('node:tls').DEFAULT_CIPHERS}:@SECLEVEL=0`;
  }
  if (s.ca !== undefined) options.ca = s.ca;
  else if (!process.execArgv.includes('--use-openssl-ca')) options.ca = systemStore();
  return options;
}

/**
 * Without --ca-file the server certificate is verified against the system trust store. The
 * binaries run with --use-openssl-ca (build/sea-pack.mjs), where OpenSSL itself looks CAs up in
 * /etc/ssl/certs (or SSL_CERT_FILE / SSL_CERT_DIR) when a chain needs them; run from source,
 * Node would trust only its bundled CAs, so the same store is read here, whole (slower).
 */
function systemStore(): string[] {
  const tls = process.getBuiltinModule('node:tls');
  return [...new Set([...tls.getCACertificates('default'), ...tls.getCACertificates('system')])];
}

// OpenSSL's reasons (as Node words them) for a certificate chain it could not verify.
const UNTRUSTED = /(self[- ]signed certificate( in certificate chain)?|unable to verify the first certificate|unable to get local issuer certificate|unable to get issuer certificate|certificate signature failure)(; if the root CA is installed locally, try running Node\.js with --use-system-ca)?/;

/**
 * The one-line reason when the server certificate is not trusted: SQL Server without a
 * certificate of its own presents a self-signed one it makes at start-up, which no trust store
 * holds. The reason says so, and which options accept or pin it. Node's advice (a Node flag)
 * does not apply to the binary, which already uses the system store.
 */
export function explainUntrusted(message: string): string {
  return message.replace(UNTRUSTED, (_, reason: string) =>
    `the server certificate is not trusted (${reason}): neither --ca-file nor the system trust store holds its CA. ` +
    'A self-signed certificate (SQL Server\'s own when none is installed) is accepted with --trust-server-certificate; ' +
    'to verify it instead, pin it: --ca-file FILE holding the server\'s certificate (PEM), or the CA that signed it');
}

/**
 * OpenSSL's words (after describeError shortened them to "TLS: <reason>") when the server offers
 * only versions below the floor: "unsupported protocol" when it answered with an older version
 * (as SQL Server 2008-2014 without the TLS 1.2 update does), "tlsv1 alert protocol version" when
 * it refused ours. The reason then names the option, but the floor is never lowered by itself.
 */
export function explainTlsVersion(message: string): string {
  return message.replace(/TLS: (unsupported protocol|tlsv1 alert protocol version)( alert number \d+)?/, (_, reason: string) =>
    `TLS: ${reason} (the server offers no TLS version that --tls-min-version allows, default 1.2; ` +
    'SQL Server 2008-2014 without its TLS 1.2 update needs --tls-min-version 1.0 or 1.1, with --encrypt on)');
}
