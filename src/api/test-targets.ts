import { isIP } from "node:net";
import { SecretType } from "../gen/credbroker/v1/secret_pb.ts";
import type { TestSecretRequest } from "../gen/credbroker/v1/secret_service_pb.ts";
import { invalidField } from "../errors.ts";
import { isLoopbackHost } from "../loopback-host.ts";
import type { SftpProbeTarget } from "../material/sftp-probe.ts";

/** A test's target after its checks: where the probe may go. */
export type TestTarget = { case: "sftp"; value: SftpProbeTarget } | { case: "http"; url: string } | { case: undefined };

// RFC 1123 host names: dot-separated labels of letters, digits and inner hyphens.
const hostName = /^(?=.{1,253}$)[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)*\.?$/i;
// What ssh-keygen -l prints for SHA-256: 32 bytes as unpadded base64.
const sha256Fingerprint = /^SHA256:[A-Za-z0-9+/]{43}$/;

/**
 * Checks a TestSecret target against the secret's type and the target
 * rules: the SFTP types need a host and port, and send a login to a host
 * that is not loopback only with its key pinned (SSH's answer to https: the
 * host key authenticates the server); Basic, Bearer and API Key may name an
 * https URL, or http to a loopback host, as token URLs may; OAuth2 and JSON
 * take none. Every refusal is INVALID_ARGUMENT naming the field.
 */
export function checkTestTarget(type: SecretType, target: TestSecretRequest["target"]): TestTarget {
  switch (type) {
    case SecretType.SFTP_PASSWORD:
    case SecretType.SFTP_PRIVATE_KEY:
      if (target.case !== "sftp") {
        throw invalidField("sftp", "is required to test an SFTP secret: the host and port to log in to");
      }
      return { case: "sftp", value: checkSftpTarget(target.value) };
    case SecretType.BASIC_AUTH:
    case SecretType.BEARER_TOKEN:
    case SecretType.API_KEY:
      if (target.case === "sftp") {
        throw invalidField("sftp", "is for SFTP secrets; an HTTP secret takes http.url, or nothing");
      }
      return target.case === "http" ? { case: "http", url: checkTestUrl(target.value.url) } : { case: undefined };
    default:
      if (target.case !== undefined) {
        throw invalidField(target.case, "is not taken: OAuth2 secrets are tested against their token URL, JSON secrets by parsing");
      }
      return { case: undefined };
  }
}

function checkSftpTarget(target: { host: string; port: number; hostKeyFingerprint: string }): SftpProbeTarget {
  const { host, port, hostKeyFingerprint } = target;
  if (host === "") {
    throw invalidField("sftp.host", "is required");
  }
  if (isIP(host) === 0 && !hostName.test(host)) {
    throw invalidField("sftp.host", "must be a host name or an IP address (IPv6 without brackets), without a port");
  }
  if (port > 65535) {
    throw invalidField("sftp.port", "must be 1-65535, or 0 for 22");
  }
  if (hostKeyFingerprint !== "" && !sha256Fingerprint.test(hostKeyFingerprint)) {
    throw invalidField("sftp.hostKeyFingerprint", "must be SHA256: and 43 characters of base64, as ssh-keygen -l prints it");
  }
  return {
    host,
    port: port === 0 ? 22 : port,
    fingerprint: hostKeyFingerprint === "" ? undefined : hostKeyFingerprint,
    unpinnedLogin: isLoopbackHost(host),
  };
}

function checkTestUrl(text: string): string {
  const field = "http.url";
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw invalidField(field, "must be an absolute URL");
  }
  if (url.username !== "" || url.password !== "") {
    throw invalidField(field, "must not carry user info; the secret supplies the credentials");
  }
  if (url.hash !== "") {
    throw invalidField(field, "must not have a fragment");
  }
  if (url.protocol === "http:" && !isLoopbackHost(url.hostname)) {
    throw invalidField(field, "http is allowed only to a loopback host; use https");
  }
  if (url.protocol !== "https:" && url.protocol !== "http:") {
    throw invalidField(field, "must be an https URL");
  }
  return url.href;
}
