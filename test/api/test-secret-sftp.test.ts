import { spawnSync } from "node:child_process";
import { generateKeyPairSync } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { toJsonString } from "@bufbuild/protobuf";
import { Code, ConnectError, type Client } from "@connectrpc/connect";
import { AuditService } from "../../src/gen/credbroker/v1/audit_service_pb.ts";
import { Mode } from "../../src/gen/credbroker/v1/secret_pb.ts";
import { SecretService, TestSecretResponseSchema, type TestSecretResponse } from "../../src/gen/credbroker/v1/secret_service_pb.ts";
import { startTestBroker, type TestBroker } from "../support/broker.ts";
import { canary } from "../support/canary.ts";
import { sshdAvailable, startSshd, type RunningSshd } from "../support/sshd.ts";

const sshd = sshdAvailable();
const title = sshd.available ? "TestSecret of SFTP secrets against OpenSSH sshd" : `TestSecret of SFTP secrets (skipped: ${sshd.reason})`;
const password = canary("sftp-password");
const wrongPassword = canary("wrong-password");

/** The fingerprint as ssh-keygen computes it from the fixture's public host key: not from the code under test. */
function keygenFingerprint(hostKey: Buffer): string {
  const dir = mkdtempSync(join(tmpdir(), "credbroker-fp-"));
  try {
    writeFileSync(join(dir, "host.pub"), `ssh-ed25519 ${hostKey.toString("base64")} host\n`);
    const out = spawnSync("ssh-keygen", ["-l", "-E", "sha256", "-f", join(dir, "host.pub")], { encoding: "utf8" });
    return out.stdout.split(" ")[1] ?? "";
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * sshd's log lines about authentication (VERBOSE logs each password and
 * publickey decision) on the connections that this part of the log opened:
 * an earlier connection's last lines may still arrive.
 */
function authLines(log: string): string[] {
  const lines = log.split("\n");
  const ports = lines.flatMap((line) => /^Connection from \S+ port (\d+) /.exec(line)?.[1] ?? []);
  return lines.filter((line) => ports.some((port) => line.includes(` port ${port} `) || line.endsWith(` port ${port}`)))
    .filter((line) => /password|publickey|Failed|Accepted|authenticating user/.test(line));
}

describe.skipIf(!sshd.available)(title, () => {
  let server: RunningSshd;
  let tb: TestBroker;
  let admin: Client<typeof SecretService>;
  let fingerprint: string;
  const answers: TestSecretResponse[] = [];
  const sftpPassword = (value: string) => ({ kind: { case: "sftpPassword" as const, value: { username: server.username, password: value } } });
  const test = async (request: Parameters<Client<typeof SecretService>["testSecret"]>[0]) => {
    const answer = await admin.testSecret(request);
    answers.push(answer);
    return answer;
  };

  beforeAll(async () => {
    server = await startSshd({ password });
    fingerprint = keygenFingerprint(server.hostKey);
    tb = await startTestBroker();
    admin = tb.connect(SecretService, tb.adminToken);
  }, 60_000);
  afterAll(async () => {
    const audit = (await tb.connect(AuditService, tb.adminToken).listAuditEvents({ pageSize: 1000 })).events;
    const seen = [...answers.map((a) => toJsonString(TestSecretResponseSchema, a)), tb.logs(), JSON.stringify(audit, (_, v: unknown) => (typeof v === "bigint" ? String(v) : v))].join("\n");
    expect(seen).not.toContain(password);
    expect(seen).not.toContain(wrongPassword);
    await tb.close();
    await server.close();
  });

  it("returns the host key fingerprint that ssh-keygen -l prints, and logs in to loopback with the right password", async () => {
    expect(fingerprint).toMatch(/^SHA256:[A-Za-z0-9+/]{43}$/);
    const answer = await test({ mode: Mode.TEST, credentials: sftpPassword(password), target: { case: "sftp", value: { host: server.host, port: server.port } } });
    expect(answer.ok).toBe(true);
    expect(answer.result).toMatchObject({
      case: "sftp",
      value: { connected: true, hostKeyAlgorithm: "ssh-ed25519", hostKeyFingerprint: fingerprint, hostKeyMatched: false, loginAttempted: true, loginAccepted: true },
    });
    console.log("accepted:", answer.summary);
  });

  it("answers a wrong password as a refused login, with the pinned key matched", async () => {
    const before = server.log().length;
    const answer = await test({
      mode: Mode.TEST,
      credentials: sftpPassword(wrongPassword),
      target: { case: "sftp", value: { host: server.host, port: server.port, hostKeyFingerprint: fingerprint } },
    });
    expect(answer.ok).toBe(false);
    expect(answer.result).toMatchObject({ case: "sftp", value: { hostKeyMatched: true, loginAttempted: true, loginAccepted: false } });
    // what the log shows of a login that was sent, and of none in the next test
    expect(authLines(server.log().slice(before)).join("\n")).toMatch(/Failed password for credbroker-sftp/);
    console.log("refused:", answer.summary);
  });

  it("refuses a server whose key is not the pinned one before any login is sent", async () => {
    const other = `SHA256:${Buffer.alloc(32, 7).toString("base64").replace(/=+$/, "")}`;
    const before = server.log().length;
    const answer = await test({ mode: Mode.TEST, credentials: sftpPassword(password), target: { case: "sftp", value: { host: server.host, port: server.port, hostKeyFingerprint: other } } });
    expect(answer.ok).toBe(false);
    expect(answer.result).toMatchObject({ case: "sftp", value: { connected: true, hostKeyFingerprint: fingerprint, hostKeyMatched: false, loginAttempted: false, loginAccepted: false } });
    // give sshd a moment to log the dropped connection, then look for any authentication in it
    await new Promise((resolve) => setTimeout(resolve, 200));
    const logged = server.log().slice(before);
    expect(logged).not.toBe("");
    expect(authLines(logged)).toEqual([]);
    console.log("mismatch:", answer.summary, "| sshd:", logged.trim().split("\n").join(" / "));
  });

  it("sends no login to a host that is not loopback as written until its key is pinned", async () => {
    // 127.1 reaches 127.0.0.1 but is not one of the loopback spellings (localhost, 127.x.x.x, ::1)
    const before = server.log().length;
    const unpinned = await test({ mode: Mode.TEST, credentials: sftpPassword(password), target: { case: "sftp", value: { host: "127.1", port: server.port } } });
    expect(unpinned.result).toMatchObject({ case: "sftp", value: { connected: true, hostKeyFingerprint: fingerprint, loginAttempted: false } });
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(authLines(server.log().slice(before))).toEqual([]);
    const pinned = await test({
      mode: Mode.TEST,
      credentials: sftpPassword(password),
      target: { case: "sftp", value: { host: "127.1", port: server.port, hostKeyFingerprint: fingerprint } },
    });
    expect(pinned).toMatchObject({ ok: true, result: { case: "sftp", value: { hostKeyMatched: true, loginAccepted: true } } });
  });

  it("tests a stored SFTP Private Key secret by name, and requires a target", async () => {
    const key = generateKeyPairSync("ed25519").privateKey.export({ format: "pem", type: "pkcs8" }).toString();
    await admin.createSecret({ mode: Mode.LIVE, name: "sftp-key", credentials: { kind: { case: "sftpPrivateKey", value: { username: server.username, privateKey: key } } } });
    const answer = await test({ mode: Mode.LIVE, name: "sftp-key", target: { case: "sftp", value: { host: "localhost", port: server.port, hostKeyFingerprint: fingerprint } } });
    // the key is not in authorized_keys: the server refuses it
    expect(answer).toMatchObject({ ok: false, secret: { name: "sftp-key" }, result: { case: "sftp", value: { loginAttempted: true, loginAccepted: false } } });
    const missing = await admin.testSecret({ mode: Mode.LIVE, name: "sftp-key" }).catch((error: unknown) => ConnectError.from(error));
    expect(missing).toBeInstanceOf(ConnectError);
    expect((missing as ConnectError).code).toBe(Code.InvalidArgument);
    expect((missing as ConnectError).rawMessage).toMatch(/^sftp:/);
  });

  it("answers a closed port as unreachable", async () => {
    const answer = await test({ mode: Mode.TEST, credentials: sftpPassword(password), target: { case: "sftp", value: { host: "127.0.0.1", port: 1 } } });
    expect(answer).toMatchObject({ ok: false, result: { case: "sftp", value: { connected: false, loginAttempted: false } } });
    expect(answer.summary).toBe("unreachable (ECONNREFUSED)");
  });
});
