import { createSecureContext } from "node:tls";
import { ConfigError } from "./config-error.ts";
import { readConfigFile, type RawSetting } from "./setting.ts";

/** TLS material of the gRPC and HTTP listeners, as PEM. */
export interface TlsMaterial {
  /** The server certificate chain. */
  cert: Buffer;
  /** The server certificate's private key. */
  key: Buffer;
  /** CA certificates that client certificates must chain to; set, a client without a valid certificate is refused (mTLS). */
  clientCa: Buffer | undefined;
}

/** The files the TLS settings name. */
export interface TlsFiles {
  /** CREDBROKER_TLS_CERT_FILE (--tls-cert-file). */
  certFile: RawSetting | undefined;
  /** CREDBROKER_TLS_KEY_FILE (--tls-key-file). */
  keyFile: RawSetting | undefined;
  /** CREDBROKER_TLS_CLIENT_CA_FILE (--tls-client-ca-file). */
  clientCaFile: RawSetting | undefined;
}

/** Reads the listeners' certificate, key and client CA, checked by building a TLS context from them. */
export async function readTlsMaterial({ certFile, keyFile, clientCaFile }: TlsFiles): Promise<TlsMaterial | undefined> {
  if (certFile === undefined && keyFile === undefined) {
    if (clientCaFile !== undefined) {
      throw new ConfigError(`${clientCaFile.source} needs CREDBROKER_TLS_CERT_FILE and CREDBROKER_TLS_KEY_FILE as well`);
    }
    return undefined;
  }
  if (certFile === undefined || keyFile === undefined) {
    throw new ConfigError("CREDBROKER_TLS_CERT_FILE (--tls-cert-file) and CREDBROKER_TLS_KEY_FILE (--tls-key-file) go together: set both");
  }
  const read = async (file: RawSetting) => Buffer.from(await readConfigFile(file.value, file.source));
  const material: TlsMaterial = {
    cert: await read(certFile),
    key: await read(keyFile),
    clientCa: clientCaFile === undefined ? undefined : await read(clientCaFile),
  };
  try {
    createSecureContext({ cert: material.cert, key: material.key, ...(material.clientCa === undefined ? {} : { ca: material.clientCa }) });
  } catch (cause) {
    const reason = cause instanceof Error ? cause.message : String(cause);
    throw new ConfigError(`${certFile.source}, ${keyFile.source}${clientCaFile === undefined ? "" : `, ${clientCaFile.source}`}: not a usable PEM certificate, key and CA (${reason})`);
  }
  return material;
}
