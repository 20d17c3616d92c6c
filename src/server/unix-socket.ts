import { chmod, chown, link, mkdtemp, rm } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import type { Server } from "node:net";
import type { ListenAddress } from "../config/listen-address.ts";
import { removeStaleSocket } from "./stale-socket.ts";

/** Who may connect to a listener's unix socket file. */
export interface SocketAccess {
  /** The socket file's group (a gid): mode 0660 and chowned to it; undefined: mode 0600. */
  group: number | undefined;
}

/**
 * Binds a unix socket at `path`, readable and writable by the broker's user
 * only (0600), or by a group as well (0660), with no moment at which anyone
 * else can connect. `bind` binds the server at a path inside a fresh
 * directory of mode 0700, which nobody else can enter, so the socket's
 * initial mode does not matter; the file is chmodded (and chowned) there,
 * then hard-linked into place, which fails if `path` exists (a live broker
 * keeps its socket), and the private directory is removed. This works for
 * grpc-js, which binds asynchronously inside its own code, where a umask set
 * around the bind would have to stay process-wide across event-loop turns.
 * A stale socket left by a crashed process is removed first.
 */
export async function bindUnixSocket(path: string, access: SocketAccess, bind: (privatePath: string) => Promise<void>): Promise<void> {
  await removeStaleSocket(path);
  const privateDir = await mkdtemp(join(dirname(path), `.${basename(path)}.`));
  try {
    const privatePath = join(privateDir, "s");
    await bind(privatePath);
    if (access.group !== undefined) {
      await chown(privatePath, process.getuid?.() ?? -1, access.group);
    }
    await chmod(privatePath, access.group === undefined ? 0o600 : 0o660);
    try {
      await link(privatePath, path);
    } catch (cause) {
      const code = (cause as NodeJS.ErrnoException).code;
      throw Object.assign(
        new Error(code === "EEXIST" ? `listen EADDRINUSE: address already in use ${path}` : `cannot bind ${path} (${code ?? "error"})`, { cause }),
        { code: code === "EEXIST" ? "EADDRINUSE" : code },
      );
    }
  } finally {
    await rm(privateDir, { recursive: true, force: true });
  }
}

/** Removes the socket file of a listener that has closed (the server unlinks only its private path). */
export async function removeSocketFile(path: string): Promise<void> {
  await rm(path, { force: true });
}

/** Puts a net (or TLS) server on a TCP address or a unix socket made with `access`; the server is closed when that fails. */
export async function listenOn(server: Server, address: ListenAddress, access: SocketAccess | undefined): Promise<void> {
  const listen = (target: { path: string } | { port: number; host: string }) =>
    new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(target, () => {
        server.off("error", reject);
        resolve();
      });
    });
  if (address.kind === "unix") {
    await bindUnixSocket(address.path, access ?? { group: undefined }, (path) => listen({ path })).catch((error: unknown) => {
      server.close();
      throw error;
    });
  } else {
    await listen({ port: address.port, host: address.host });
  }
}
