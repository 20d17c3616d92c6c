import { createHash } from "node:crypto";
import { create } from "@bufbuild/protobuf";
import type { ConnectConfig } from "ssh2";
import type { SftpMaterial } from "../gen/credbroker/v1/inject_service_pb.ts";
import { SftpTestResultSchema, type SftpTestResult } from "../gen/credbroker/v1/secret_service_pb.ts";
import { networkFailure, type ProbeOutcome } from "./probe-outcome.ts";
import { ssh2 } from "./ssh2-module.ts";

/** The SSH server to test a login against, as the request's checks left it. */
export interface SftpProbeTarget {
  host: string;
  port: number;
  /** The pinned host key fingerprint (`SHA256:...`), if one was given. */
  fingerprint: string | undefined;
  /** Whether the login may be sent to a server whose key is not pinned (a loopback host). */
  unpinnedLogin: boolean;
}

/**
 * Connects to an SSH server, reads its host key and, when the key is the
 * pinned one (or the host is loopback and none is pinned), logs in once
 * with the secret's SFTP material. The host key is checked during key
 * exchange, before ssh2 sends any authentication, so a server with another
 * key never sees the password or a signature.
 */
export async function probeSftp(login: SftpMaterial, target: SftpProbeTarget, timeoutMs: number): Promise<ProbeOutcome<SftpTestResult>> {
  const result = create(SftpTestResultSchema);
  const { Client } = ssh2();
  const client = new Client();
  const outcome = await new Promise<{ ok: boolean; summary: string }>((resolve) => {
    const timer = setTimeout(() => resolve({ ok: false, summary: `no login within ${timeoutMs / 1000} s` }), timeoutMs);
    const settle = (ok: boolean, summary: string) => {
      clearTimeout(timer);
      resolve({ ok, summary });
    };
    client.once("ready", () => {
      result.loginAccepted = true;
      settle(true, `login accepted${hostKeyNote(result)}`);
    });
    client.once("error", (error: Error & { level?: string }) => {
      if (error.level === "client-authentication") {
        settle(false, `login refused${hostKeyNote(result)}`);
      } else if (result.connected && !result.loginAttempted) {
        settle(false, unsentLogin(result, target));
      } else {
        settle(false, `${networkFailure(error, timeoutMs)}${result.connected ? hostKeyNote(result) : ""}`);
      }
    });
    client.once("close", () => settle(false, result.connected ? `the server closed the connection${hostKeyNote(result)}` : "the server closed the connection"));
    const config: ConnectConfig = {
      host: target.host,
      port: target.port,
      username: login.username,
      readyTimeout: timeoutMs,
      tryKeyboard: false,
      hostVerifier: (key: Buffer) => {
        if (result.connected) {
          // a later key exchange of this connection: the first one decided
          return result.loginAttempted;
        }
        result.connected = true;
        result.hostKeyAlgorithm = keyAlgorithm(key);
        result.hostKeyFingerprint = fingerprintOf(key);
        result.hostKeyMatched = target.fingerprint !== undefined && result.hostKeyFingerprint === target.fingerprint;
        result.loginAttempted = result.hostKeyMatched || (target.fingerprint === undefined && target.unpinnedLogin);
        return result.loginAttempted;
      },
      ...authOf(login),
    };
    try {
      client.connect(config);
    } catch {
      // ssh2 parses the private key in connect(); its message is not repeated
      settle(false, "the SFTP client cannot use the private key");
    }
  });
  client.removeAllListeners();
  client.on("error", () => undefined);
  client.end();
  client.destroy();
  return { ...outcome, result };
}

/** The host key's fingerprint as `ssh-keygen -l` prints it: SHA-256 of the key blob, unpadded base64. */
export function fingerprintOf(key: Buffer): string {
  return `SHA256:${createHash("sha256").update(key).digest("base64").replace(/=+$/, "")}`;
}

/** The algorithm name that opens an SSH public key blob (RFC 4253 6.6), if it is a plain one. */
function keyAlgorithm(key: Buffer): string {
  const length = key.length >= 4 ? key.readUInt32BE(0) : 0;
  const name = key.subarray(4, 4 + Math.min(length, 64)).toString("latin1");
  return /^[a-z0-9@.+-]{1,64}$/.test(name) ? name : "unknown";
}

/** Only the one method the secret is for: no "none" probe, no keyboard-interactive. */
function authOf(login: SftpMaterial): Pick<ConnectConfig, "password" | "privateKey" | "passphrase" | "authHandler"> {
  if (login.auth.case === "password") {
    return { password: login.auth.value, authHandler: ["password"] };
  }
  const key = login.auth.case === "privateKey" ? login.auth.value : "";
  return { privateKey: key, ...(login.passphrase === "" ? {} : { passphrase: login.passphrase }), authHandler: ["publickey"] };
}

function hostKeyNote(result: SftpTestResult): string {
  return ` (host key ${result.hostKeyAlgorithm} ${result.hostKeyFingerprint}${result.hostKeyMatched ? ", matches the pinned one" : ""})`;
}

function unsentLogin(result: SftpTestResult, target: SftpProbeTarget): string {
  const key = `${result.hostKeyAlgorithm} ${result.hostKeyFingerprint}`;
  return target.fingerprint === undefined
    ? `host key ${key} is not pinned: no login sent to a host that is not loopback; pin it in hostKeyFingerprint and test again`
    : `host key ${key} is not the pinned ${target.fingerprint}: no login sent`;
}
