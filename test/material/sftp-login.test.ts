import { spawnSync } from "node:child_process";
import { generateKeyPairSync, randomUUID } from "node:crypto";
import type { KeyObject } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import ssh2 from "ssh2";
import type { FileEntryWithStats, SFTPWrapper } from "ssh2";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { checkPrivateKey, clientPrivateKey } from "../../src/material/private-key.ts";
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

/** The key as the broker would store it (checked) and inject it (converted). */
function injected(privateKey: string, passphrase: string): { privateKey: string; passphrase: string } {
  checkPrivateKey(privateKey, passphrase);
  return clientPrivateKey(privateKey, passphrase);
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
  }, 150_000); // startSshd may wait its turn for the password lock

  afterAll(async () => {
    await server?.close();
    rmSync(keyDir, { recursive: true, force: true });
  });

  const live = (): RunningSshd => {
    if (server === undefined) throw new Error("sshd did not start");
    return server;
  };

  it("logs in with a password", async () => {
    expect(await sftpList(live(), { password })).toContain(SFTP_WELCOME_FILE);
  });

  it.each([
    ["an RSA PKCS#8 key", () => injected(pkcs8(rsa), "")],
    ["an EC PKCS#8 key", () => injected(pkcs8(ec), "")],
    ["an Ed25519 PKCS#8 key", () => injected(pkcs8(ed), "")],
    ["an OpenSSH-format Ed25519 key", () => injected(openssh.plain.privateKey, "")],
    ["an OpenSSH-format key with a passphrase", () => injected(openssh.encrypted.privateKey, passphrase)],
    ["an encrypted RSA PKCS#8 key", () => injected(pkcs8(rsa, passphrase), passphrase)],
    ["an encrypted Ed25519 PKCS#8 key", () => injected(pkcs8(edEncrypted, passphrase), passphrase)],
    ["a legacy-encrypted PKCS#1 key", () => injected(rsa.export({ type: "pkcs1", format: "pem", cipher: "aes-256-cbc", passphrase }).toString(), passphrase)],
  ])("logs in with %s, as clientPrivateKey hands it over", async (_, material) => {
    expect(await sftpList(live(), material())).toContain(SFTP_WELCOME_FILE);
  });

  it("refuses a wrong password", async () => {
    await expect(sftpList(live(), { password: canary() })).rejects.toMatchObject({ level: "client-authentication" });
  });

  it("refuses a valid key that is not in authorized_keys", async () => {
    const material = injected(pkcs8(stranger), "");
    await expect(sftpList(live(), material)).rejects.toMatchObject({ level: "client-authentication" });
    expect(live().log()).toMatch(/Failed publickey for credbroker-sftp/);
  });
});
