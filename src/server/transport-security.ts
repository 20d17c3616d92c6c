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
 * Refuses a cleartext API listener on anything but loopback or a unix
 * socket: tokens and credential values would cross the network in the clear.
 * The metrics listener is not checked; it carries counts, never a secret.
 */
export function checkListenerSecurity(listeners: { address: string; setting: string }[], tls: TlsMaterial | undefined): void {
  if (tls !== undefined) {
    return;
  }
  for (const { address, setting } of listeners) {
    const parsed = parseListenAddress(address, setting);
    if (parsed.kind === "tcp" && !isLoopbackHost(parsed.host)) {
      throw new ConfigError(
        `${setting}: ${address} is not a loopback address, and the broker will not serve tokens and credentials there without TLS; ` +
          `set CREDBROKER_TLS_CERT_FILE and CREDBROKER_TLS_KEY_FILE, or listen on 127.0.0.1, ::1, localhost or a unix socket`,
      );
    }
  }
}
