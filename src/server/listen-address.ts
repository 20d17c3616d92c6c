import { lstat, rm } from "node:fs/promises";
import { connect } from "node:net";

/** A parsed listener address. */
export type ListenAddress = { kind: "tcp"; host: string; port: number } | { kind: "unix"; path: string };

/** Parses `host:port`, `[v6]:port` or `unix:/path`; the message names the setting at fault. */
export function parseListenAddress(address: string, setting: string): ListenAddress {
  if (address.startsWith("unix:")) {
    const path = address.slice("unix:".length).replace(/^\/\/(?=\/)/, "");
    if (!path.startsWith("/")) {
      throw new Error(`${setting}: a unix socket address must be absolute, like unix:/run/credbroker.sock`);
    }
    return { kind: "unix", path };
  }
  const match = /^(?:\[([^\]]+)\]|([^:]+)):(\d{1,5})$/.exec(address);
  const port = Number(match?.[3]);
  if (match === null || port > 65535) {
    throw new Error(`${setting}: expected host:port or unix:/path, got "${address}"`);
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

/**
 * Removes a unix socket file left by a crashed process. A socket that still
 * answers belongs to a running process and is left alone (the bind then
 * fails with EADDRINUSE, as it should).
 */
export async function removeStaleSocket(path: string): Promise<void> {
  const stat = await lstat(path).catch(() => undefined);
  if (stat === undefined || !stat.isSocket()) {
    return;
  }
  const alive = await new Promise<boolean>((resolve) => {
    const socket = connect(path);
    socket.once("connect", () => {
      socket.destroy();
      resolve(true);
    });
    socket.once("error", () => resolve(false));
  });
  if (!alive) {
    await rm(path, { force: true });
  }
}
