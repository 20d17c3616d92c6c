import { ConfigError } from "../config/config.ts";
import { isLoopbackHost } from "../loopback-host.ts";
import { parseListenAddress } from "./listen-address.ts";

/** TLS material of the gRPC and HTTP listeners, as PEM. */
export interface TlsMaterial {
  /** The server certificate chain. */
  cert: Buffer;
  /** The server certificate's private key. */
  key: Buffer;
  /** CA certificates that client certificates must chain to; set, a client without a valid certificate is refused (mTLS). */
  clientCa: Buffer | undefined;
}

/**
 * Refuses an API listener beyond loopback and unix sockets that would give
 * tokens or credential values away: one in cleartext (they would cross the
 * network in the clear), and one over TLS with neither an inject token nor
 * client certificates (Inject would answer anyone who completes the handshake).
 * The metrics listener is not checked; it carries counts, never a secret.
 */
export function checkListenerSecurity(
  listeners: { address: string; setting: string }[],
  tls: TlsMaterial | undefined,
  injectTokenSet: boolean,
): void {
  for (const { address, setting } of listeners) {
    const parsed = parseListenAddress(address, setting);
    if (parsed.kind !== "tcp" || isLoopbackHost(parsed.host)) {
      continue;
    }
    if (tls === undefined) {
      throw new ConfigError(
        `${setting}: ${address} is not a loopback address, and the broker will not serve tokens and credentials there without TLS; ` +
          `set CREDBROKER_TLS_CERT_FILE and CREDBROKER_TLS_KEY_FILE, or listen on 127.0.0.1, ::1, localhost or a unix socket`,
      );
    }
    if (tls.clientCa === undefined && !injectTokenSet) {
      throw new ConfigError(
        `${setting}: ${address} is not a loopback address, and the broker will not serve Inject there to anyone who completes TLS; ` +
          `set CREDBROKER_INJECT_TOKEN (or CREDBROKER_INJECT_TOKEN_TEST and CREDBROKER_INJECT_TOKEN_LIVE) or CREDBROKER_TLS_CLIENT_CA_FILE, ` +
          `or listen on 127.0.0.1, ::1, localhost or a unix socket`,
      );
    }
  }
}
