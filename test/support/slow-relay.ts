import { connect, createServer, type Server, type Socket } from "node:net";

/** A TCP relay on a loopback port. */
export interface SlowRelay {
  readonly port: number;
  close(): Promise<void>;
}

/** Relays TCP to 127.0.0.1:`port`, holding each chunk `delayMs` in each direction (order kept): a network hop away. */
export async function startSlowRelay(port: number, delayMs: number): Promise<SlowRelay> {
  const sockets = new Set<Socket>();
  const relay = (from: Socket, to: Socket) => {
    from.on("data", (chunk) => setTimeout(() => to.writable && to.write(chunk), delayMs));
    from.on("end", () => setTimeout(() => to.end(), delayMs));
    from.on("error", () => to.destroy());
    from.on("close", () => setTimeout(() => to.destroy(), delayMs + 1));
  };
  const server: Server = createServer((client) => {
    const upstream = connect(port, "127.0.0.1");
    for (const socket of [client, upstream]) {
      sockets.add(socket);
      socket.on("close", () => sockets.delete(socket));
    }
    relay(client, upstream);
    relay(upstream, client);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    port: (server.address() as { port: number }).port,
    close: async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}
