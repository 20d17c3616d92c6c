import { lstat, rm } from "node:fs/promises";
import { connect } from "node:net";

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
