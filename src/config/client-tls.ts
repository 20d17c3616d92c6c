import { X509Certificate } from "node:crypto";
import type { ClientTlsOptions } from "../client/create-client.ts";
import { ConfigError } from "./config-error.ts";
import { readConfigFile } from "./setting.ts";

/** Where the client commands read their TLS settings from. */
export interface ClientTlsSources {
  /** `--tls-ca-file` or CREDBROKER_TLS_CA_FILE: the CA that issued the broker's certificate. */
  caFile: string | undefined;
  /** CREDBROKER_TLS_CERT_FILE: the broker's own certificate, when the command runs where the broker does. */
  brokerCertFile: string | undefined;
  /** `--tls-client-cert-file` or CREDBROKER_TLS_CLIENT_CERT_FILE: for a broker that requires client certificates. */
  clientCertFile: string | undefined;
  /** `--tls-client-key-file` or CREDBROKER_TLS_CLIENT_KEY_FILE: that certificate's key. */
  clientKeyFile: string | undefined;
}

/**
 * How the client commands reach a broker whose listeners speak TLS, or
 * undefined for cleartext. With a CA file the broker's certificate is
 * verified as any TLS client would, name included. Without one, next to a
 * broker that has its own certificate in CREDBROKER_TLS_CERT_FILE (the
 * container's HEALTHCHECK, an exec probe), the commands trust exactly that
 * certificate: pinned, so the name they dial (127.0.0.1) need not be in it.
 */
export async function loadClientTls(sources: ClientTlsSources): Promise<ClientTlsOptions | undefined> {
  if ((sources.clientCertFile === undefined) !== (sources.clientKeyFile === undefined)) {
    throw new ConfigError("a client certificate needs both --tls-client-cert-file and --tls-client-key-file (CREDBROKER_TLS_CLIENT_CERT_FILE, CREDBROKER_TLS_CLIENT_KEY_FILE)");
  }
  const client =
    sources.clientCertFile === undefined || sources.clientKeyFile === undefined
      ? {}
      : {
          cert: await readConfigFile(sources.clientCertFile, "--tls-client-cert-file"),
          key: await readConfigFile(sources.clientKeyFile, "--tls-client-key-file"),
        };
  if (sources.caFile !== undefined) {
    return { ca: await readConfigFile(sources.caFile, "--tls-ca-file"), ...client };
  }
  if (sources.brokerCertFile !== undefined) {
    const pem = await readConfigFile(sources.brokerCertFile, "CREDBROKER_TLS_CERT_FILE");
    const pinned = firstCertificate(pem, sources.brokerCertFile).fingerprint256;
    return {
      ca: pem,
      // the broker's leaf is the trust anchor; no CA above it need be at hand
      allowPartialTrustChain: true,
      checkServerIdentity: (_host, cert) =>
        cert.fingerprint256 === pinned ? undefined : new Error("the broker presented a certificate other than CREDBROKER_TLS_CERT_FILE"),
      ...client,
    };
  }
  return client.cert === undefined ? undefined : client;
}

function firstCertificate(pem: string, path: string): X509Certificate {
  try {
    return new X509Certificate(pem);
  } catch {
    throw new ConfigError(`${path} holds no PEM certificate`);
  }
}
