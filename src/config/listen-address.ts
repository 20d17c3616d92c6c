import { ConfigError } from "./config-error.ts";

/** A parsed listener address. */
export type ListenAddress = { kind: "tcp"; host: string; port: number } | { kind: "unix"; path: string };

/** Parses `host:port`, `[v6]:port` or `unix:/path`; the message names the setting at fault. */
export function parseListenAddress(address: string, setting: string): ListenAddress {
  if (address.startsWith("unix:")) {
    const path = address.slice("unix:".length).replace(/^\/\/(?=\/)/, "");
    if (!path.startsWith("/")) {
      throw new ConfigError(`${setting}: a unix socket address must be absolute, like unix:/run/credbroker.sock`);
    }
    return { kind: "unix", path };
  }
  const match = /^(?:\[([^\]]+)\]|([^:]+)):(\d{1,5})$/.exec(address);
  const port = Number(match?.[3]);
  if (match === null || port > 65535) {
    throw new ConfigError(`${setting}: expected host:port or unix:/path, got "${address}"`);
  }
  return { kind: "tcp", host: match[1] ?? match[2] ?? "", port };
}

/** The address as a client dials it: `host:port` or `unix:/path`. */
export function formatListenAddress(address: ListenAddress): string {
  if (address.kind === "unix") {
    return `unix:${address.path}`;
  }
  return address.host.includes(":") ? `[${address.host}]:${address.port}` : `${address.host}:${address.port}`;
}
