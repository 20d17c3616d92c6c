import { createRequire } from "node:module";

const require = createRequire(import.meta.url);

/**
 * The ssh2 package, loaded on first use: only an SFTP private key's check
 * and the SFTP probe need it, and loading it with the broker cost every
 * start ~70 ms of CPU for what most brokers never do. Synchronous (ssh2 is
 * CommonJS), so that the key check stays synchronous; Node caches it.
 */
export function ssh2(): typeof import("ssh2") {
  return require("ssh2") as typeof import("ssh2");
}
