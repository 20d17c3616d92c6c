import { spawnSync } from "node:child_process";
import { generateKeyPairSync, randomUUID } from "node:crypto";
import type { KeyObject } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import ssh2 from "ssh2";
import type { FileEntryWithStats, SFTPWrapper } from "ssh2";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { InjectRequestSchema, InjectResponseSchema, InjectService } from "../../src/gen/credbroker/v1/inject_service_pb.ts";
import { Mode } from "../../src/gen/credbroker/v1/secret_pb.ts";
import { SecretService } from "../../src/gen/credbroker/v1/secret_service_pb.ts";
import { startTestBroker, type TestBroker } from "../support/broker.ts";
import { createGrpcJsClient } from "../support/grpc-client.ts";
import { SFTP_WELCOME_FILE, sshdAvailable, startSshd } from "../support/sshd.ts";
import type { RunningSshd } from "../support/sshd.ts";

const sshd = sshdAvailable();
const title = sshd.available ? "SFTP login against OpenSSH sshd" : `SFTP login against OpenSSH sshd (skipped: ${sshd.reason})`;
const canary = (): string => `canary-${randomUUID()}`;

/** The authorized_keys line, derived from the key itself rather than from the code under test. */
function authorizedKey(key: KeyObject): string {
  const jwk = key.export({ format: "jwk" });
  const field = (bytes: Buffer) => {
    const length = Buffer.alloc(4);
    length.writeUInt32BE(bytes.length);
    return Buffer.concat([length, bytes]);
  };
  const mpint = (base64url: string | undefined) => {
    const bytes = Buffer.from(base64url ?? "", "base64url");
    return field((bytes[0] ?? 0) & 0x80 ? Buffer.concat([Buffer.from([0]), bytes]) : bytes);
  };
  if (jwk.kty === "RSA") {
    return `ssh-rsa ${Buffer.concat([field(Buffer.from("ssh-rsa")), mpint(jwk.e), mpint(jwk.n)]).toString("base64")}`;
  }
  const point = Buffer.concat([Buffer.from([4]), Buffer.from(jwk.x ?? "", "base64url"), Buffer.from(jwk.y ?? "", "base64url")]);
  if (jwk.kty === "EC") {
    const blob = [field(Buffer.from("ecdsa-sha2-nistp256")), field(Buffer.from("nistp256")), field(point)];
    return `ecdsa-sha2-nistp256 ${Buffer.concat(blob).toString("base64")}`;
  }
  const blob = [field(Buffer.from("ssh-ed25519")), field(Buffer.from(jwk.x ?? "", "base64url"))];
  return `ssh-ed25519 ${Buffer.concat(blob).toString("base64")}`;
}

/** Logs in with ssh2's Client, opens SFTP and lists the start directory. */
async function sftpList(server: RunningSshd, auth: { password: string } | { privateKey: string; passphrase: string }): Promise<string[]> {
  const client = new ssh2.Client();
  try {
    await new Promise<void>((resolve, reject) => {
      client.once("ready", resolve).once("error", reject).connect({
        host: server.host, port: server.port, username: server.username, readyTimeout: 10_000,
        tryKeyboard: false, hostVerifier: (key: Buffer) => key.equals(server.hostKey), ...auth,
      });
    });
    const sftp = await new Promise<SFTPWrapper>((resolve, reject) => {
      client.sftp((error, session) => (error ? reject(error) : resolve(session)));
    });
    const entries = await new Promise<FileEntryWithStats[]>((resolve, reject) => {
      sftp.readdir(".", (error, list) => (error ? reject(error) : resolve(list)));
    });
    return entries.map((entry) => entry.filename);
  } finally {
    client.end();
  }
}

let broker: TestBroker | undefined;
let secretCount = 0;

/** Stores the login in a real broker and returns exactly what Inject answers over classic gRPC. */
async function injected(
  credentials: { privateKey: string; passphrase: string } | { password: string },
): Promise<{ privateKey: string; passphrase: string } | { password: string }> {
  if (broker === undefined) throw new Error("the broker did not start");
  const name = `sftp-${++secretCount}`;
  await broker.connect(SecretService, broker.adminToken).createSecret({
    mode: Mode.TEST,
    name,
    credentials:
      "password" in credentials
        ? { kind: { case: "sftpPassword", value: { username: "credbroker-sftp", password: credentials.password } } }
        : { kind: { case: "sftpPrivateKey", value: { username: "credbroker-sftp", ...credentials } } },
  });
  const client = createGrpcJsClient(InjectService, broker.broker.grpcAddress);
  const res = await client.call("Inject", InjectRequestSchema, InjectResponseSchema, { mode: Mode.TEST, name });
  client.close();
  if (!res.ok || res.message.material.case !== "sftp") throw new Error(`Inject did not answer SFTP material: ${JSON.stringify(res)}`);
  const sftp = res.message.material.value;
  expect(sftp.username).toBe("credbroker-sftp");
  return sftp.auth.case === "password"
    ? { password: sftp.auth.value }
    : { privateKey: sftp.auth.value ?? "", passphrase: sftp.passphrase };
}

describe.skipIf(!sshd.available)(title, () => {
  const password = canary();
  const passphrase = canary();
  const rsa = generateKeyPairSync("rsa", { modulusLength: 2048 }).privateKey;
  const ec = generateKeyPairSync("ec", { namedCurve: "P-256" }).privateKey;
  const ed = generateKeyPairSync("ed25519").privateKey;
  const edEncrypted = generateKeyPairSync("ed25519").privateKey;
  const stranger = generateKeyPairSync("ed25519").privateKey;
  const pkcs8 = (key: KeyObject, secret?: string) => key.export(secret === undefined
    ? { type: "pkcs8", format: "pem" }
    : { type: "pkcs8", format: "pem", cipher: "aes-256-cbc", passphrase: secret }).toString();
  const openssh: Record<"plain" | "encrypted", { privateKey: string; publicKey: string }> = {
    plain: { privateKey: "", publicKey: "" }, encrypted: { privateKey: "", publicKey: "" },
  };
  let server: RunningSshd | undefined;
  let keyDir = "";

  beforeAll(async () => {
    // Keys in the OpenSSH format come from OpenSSH's own ssh-keygen.
    keyDir = mkdtempSync(join(tmpdir(), "credbroker-sftp-keys-"));
    for (const [name, secret] of [["plain", ""], ["encrypted", passphrase]] as const) {
      const file = join(keyDir, name);
      const made = spawnSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", secret, "-C", "", "-f", file], { encoding: "utf8" });
      expect(made.status, made.stderr).toBe(0);
      openssh[name] = { privateKey: readFileSync(file, "utf8"), publicKey: readFileSync(`${file}.pub`, "utf8").trim() };
    }
    const authorizedKeys = [rsa, ec, ed, edEncrypted].map(authorizedKey);
    server = await startSshd({ password, authorizedKeys: [...authorizedKeys, openssh.plain.publicKey, openssh.encrypted.publicKey] });
    broker = await startTestBroker();
  }, 150_000); // startSshd may wait its turn for the password lock

  afterAll(async () => {
    await server?.close();
    await broker?.close();
    rmSync(keyDir, { recursive: true, force: true });
  });

  const live = (): RunningSshd => {
    if (server === undefined) throw new Error("sshd did not start");
    return server;
  };

  it("logs in with a password", async () => {
    expect(await sftpList(live(), await injected({ password }))).toContain(SFTP_WELCOME_FILE);
  });

  it.each([
    ["an RSA PKCS#8 key", () => injected({ privateKey: pkcs8(rsa), passphrase: "" })],
    ["an EC PKCS#8 key", () => injected({ privateKey: pkcs8(ec), passphrase: "" })],
    ["an Ed25519 PKCS#8 key", () => injected({ privateKey: pkcs8(ed), passphrase: "" })],
    ["an OpenSSH-format Ed25519 key", () => injected({ privateKey: openssh.plain.privateKey, passphrase: "" })],
    ["an OpenSSH-format key with a passphrase", () => injected({ privateKey: openssh.encrypted.privateKey, passphrase })],
    ["an encrypted RSA PKCS#8 key", () => injected({ privateKey: pkcs8(rsa, passphrase), passphrase })],
    ["an encrypted Ed25519 PKCS#8 key", () => injected({ privateKey: pkcs8(edEncrypted, passphrase), passphrase })],
    ["a legacy-encrypted PKCS#1 key", () => injected({ privateKey: rsa.export({ type: "pkcs1", format: "pem", cipher: "aes-256-cbc", passphrase }).toString(), passphrase })],
  ])("logs in with %s, exactly as Inject hands it over", async (_, material) => {
    expect(await sftpList(live(), await material())).toContain(SFTP_WELCOME_FILE);
  });

  it("refuses a wrong password", async () => {
    await expect(sftpList(live(), { password: canary() })).rejects.toMatchObject({ level: "client-authentication" });
  });

  it("refuses a valid key that is not in authorized_keys", async () => {
    const material = await injected({ privateKey: pkcs8(stranger), passphrase: "" });
    await expect(sftpList(live(), material)).rejects.toMatchObject({ level: "client-authentication" });
    expect(live().log()).toMatch(/Failed publickey for credbroker-sftp/);
  });
});
