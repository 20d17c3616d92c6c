/**
 * The client commands against a broker whose listeners speak TLS: the CA
 * given with --tls-ca-file, the broker's own certificate pinned (the
 * container HEALTHCHECK and exec probe, which run with the broker's
 * environment), and a client certificate for mTLS. Real listeners, the CLI
 * as a child process, certificates made by openssl.
 */
import { rm } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestBroker, type TestBroker } from "../support/broker.ts";
import { makePki, type Pki } from "../support/pki.ts";
import { runCli } from "../support/run-cli.ts";

let pki: Pki;
beforeAll(async () => {
  pki = await makePki();
});
afterAll(() => rm(pki.dir, { recursive: true, force: true }));

const file = (name: string) => join(pki.dir, name);

describe("client commands over TLS", () => {
  let tb: TestBroker;
  beforeAll(async () => {
    tb = await startTestBroker({ tls: { cert: pki.serverCert, key: pki.serverKey, clientCa: undefined } });
  });
  afterAll(() => tb.close());

  it("checks health next to the broker, trusting exactly the broker's own CREDBROKER_TLS_CERT_FILE", async () => {
    const run = await runCli(["health"], { CREDBROKER_LISTEN: tb.broker.grpcAddress, CREDBROKER_TLS_CERT_FILE: file("server.crt") });
    expect(run).toMatchObject({ code: 0, stdout: "SERVING\n" });
  });

  it("refuses a broker that presents another certificate than the pinned one", async () => {
    // a certificate of the same CA, but not the broker's
    const run = await runCli(["health"], { CREDBROKER_LISTEN: tb.broker.grpcAddress, CREDBROKER_TLS_CERT_FILE: file("client.crt") });
    expect(run.code).toBe(1);
    expect(run.stdout).toBe("");
  });

  it("verifies the broker against --tls-ca-file, and runs admin commands over TLS", async () => {
    const health = await runCli(["health", "--tls-ca-file", file("ca.crt")], { CREDBROKER_ADDR: tb.broker.grpcAddress });
    expect(health).toMatchObject({ code: 0, stdout: "SERVING\n" });
    const list = await runCli(["secrets", "list", "--mode", "test", "--json"], {
      CREDBROKER_ADDR: tb.broker.grpcAddress,
      CREDBROKER_TLS_CA_FILE: file("ca.crt"),
      CREDBROKER_TOKEN: tb.adminToken,
    });
    expect(list.code).toBe(0);
    expect(JSON.parse(list.stdout)).toMatchObject({ secrets: [] });
  });

  it("fails, exit 1, against an untrusted CA or in cleartext", async () => {
    const untrusted = await runCli(["health", "--tls-ca-file", file("other-ca.crt")], { CREDBROKER_ADDR: tb.broker.grpcAddress });
    expect(untrusted.code).toBe(1);
    const cleartext = await runCli(["health"], { CREDBROKER_ADDR: tb.broker.grpcAddress });
    expect(cleartext.code).toBe(1);
  });

  it("answers a half-given client certificate or an unreadable file with a configuration error", async () => {
    const half = await runCli(["health", "--tls-client-cert-file", file("client.crt")], { CREDBROKER_ADDR: tb.broker.grpcAddress });
    expect(half.code).toBe(2);
    expect(half.stderr).toContain("--tls-client-key-file");
    const missing = await runCli(["health", "--tls-ca-file", file("no-such.crt")], { CREDBROKER_ADDR: tb.broker.grpcAddress });
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain("no-such.crt (ENOENT)");
  });
});

describe("client commands with mTLS", () => {
  let tb: TestBroker;
  beforeAll(async () => {
    tb = await startTestBroker({ tls: { cert: pki.serverCert, key: pki.serverKey, clientCa: pki.ca } });
  });
  afterAll(() => tb.close());

  it("needs a client certificate: without one health fails, with one it is SERVING", async () => {
    const env = { CREDBROKER_LISTEN: tb.broker.grpcAddress, CREDBROKER_TLS_CERT_FILE: file("server.crt") };
    expect((await runCli(["health"], env)).code).toBe(1);
    const withCert = await runCli(["health"], {
      ...env,
      CREDBROKER_TLS_CLIENT_CERT_FILE: file("client.crt"),
      CREDBROKER_TLS_CLIENT_KEY_FILE: file("client.key"),
    });
    expect(withCert).toMatchObject({ code: 0, stdout: "SERVING\n" });
    const stranger = await runCli(["health", "--tls-client-cert-file", file("stranger.crt"), "--tls-client-key-file", file("stranger.key")], env);
    expect(stranger.code).toBe(1);
  });
});
