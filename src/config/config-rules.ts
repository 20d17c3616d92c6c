import { isLoopbackHost } from "../loopback-host.ts";
import type { Config } from "./config.ts";
import { ConfigError } from "./config-error.ts";
import { parseListenAddress } from "./listen-address.ts";
import type { ConfiguredSecret } from "./secret-settings.ts";
import { serveSettings } from "./settings.ts";

/**
 * The rules that span settings, which loadConfig applies to what it read
 * (and a test to a Config it built): the API listeners' transport security,
 * then the tokens. Messages name the settings, never a token.
 */
export function checkConfig(config: Config): void {
  const { listen, httpListen } = serveSettings;
  checkListenerSecurity(
    [
      { address: config.listen, setting: listen.env },
      ...(config.httpListen === "off" ? [] : [{ address: config.httpListen, setting: httpListen.env }]),
    ],
    config,
  );
  checkTokens([config.adminToken, config.injectToken, config.injectTokenTest, config.injectTokenLive]);
  checkFleet(config);
}

/**
 * Fleet mode needs the master key and admin token configured: generated
 * ones would differ from sidecar to sidecar (each would refuse the fleet's
 * keyring, or answer another token).
 */
function checkFleet(config: Config): void {
  if (config.postgresUrl === undefined) {
    return;
  }
  const missing = [
    ...(config.masterKey === undefined ? ["CREDBROKER_MASTER_KEY (or --master-key-file)"] : []),
    ...(config.adminToken === undefined ? ["CREDBROKER_ADMIN_TOKEN (or --admin-token-file)"] : []),
  ];
  if (missing.length > 0) {
    throw new ConfigError(
      `${config.postgresUrl.source}: fleet mode needs ${missing.join(" and ")} set, the same on every sidecar; ` +
        `a generated one would differ from sidecar to sidecar`,
    );
  }
}

/**
 * Refuses an API listener beyond loopback and unix sockets that would give
 * tokens or credential values away: one in cleartext (they would cross the
 * network in the clear), and one over TLS with neither an inject token nor
 * client certificates (Inject would answer anyone who completes the handshake).
 * The metrics listener is not checked; it carries counts, never a secret.
 */
function checkListenerSecurity(listeners: { address: string; setting: string }[], config: Config): void {
  const injectTokenSet = config.injectToken !== undefined || config.injectTokenTest !== undefined || config.injectTokenLive !== undefined;
  for (const { address, setting } of listeners) {
    const parsed = parseListenAddress(address, setting);
    if (parsed.kind !== "tcp" || isLoopbackHost(parsed.host)) {
      continue;
    }
    if (config.tls === undefined) {
      throw new ConfigError(
        `${setting}: ${address} is not a loopback address, and the broker will not serve tokens and credentials there without TLS; ` +
          `set CREDBROKER_TLS_CERT_FILE and CREDBROKER_TLS_KEY_FILE, or listen on 127.0.0.1, ::1, localhost or a unix socket`,
      );
    }
    if (config.tls.clientCa === undefined && !injectTokenSet) {
      throw new ConfigError(
        `${setting}: ${address} is not a loopback address, and the broker will not serve Inject there to anyone who completes TLS; ` +
          `set CREDBROKER_INJECT_TOKEN (or CREDBROKER_INJECT_TOKEN_TEST and CREDBROKER_INJECT_TOKEN_LIVE) or CREDBROKER_TLS_CLIENT_CA_FILE, ` +
          `or listen on 127.0.0.1, ::1, localhost or a unix socket`,
      );
    }
  }
}

/** The shortest token the broker is configured with: 24 random bytes in base64url are 32 characters. */
const minTokenLength = 32;

/**
 * Refuses tokens short enough to guess and a token shared between roles
 * (admin, inject, test-only, live-only): a test-only token equal to the
 * live-only one would read live. Messages name the settings, never a value.
 */
export function checkTokens(tokens: readonly (ConfiguredSecret<string> | undefined)[]): void {
  const configured = tokens.filter((token) => token !== undefined);
  for (const [index, token] of configured.entries()) {
    if (token.value.length < minTokenLength) {
      throw new ConfigError(`${token.source} must be at least ${minTokenLength} characters long (e.g. 24 random bytes in base64url)`);
    }
    const twin = configured.slice(0, index).find((other) => other.value === token.value);
    if (twin !== undefined) {
      throw new ConfigError(
        `${twin.source} and ${token.source} hold the same token; the admin, inject, test-only and live-only tokens must all differ`,
      );
    }
  }
}
