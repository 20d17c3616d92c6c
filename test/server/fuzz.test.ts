import { randomBytes } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { create, toBinary, type DescMessage, type MessageInitShape } from "@bufbuild/protobuf";
import * as grpc from "@grpc/grpc-js";
import { InjectRequestSchema, InjectService } from "../../src/gen/credbroker/v1/inject_service_pb.ts";
import { Mode, StepKind } from "../../src/gen/credbroker/v1/secret_pb.ts";
import {
  CreateSecretRequestSchema,
  DeleteSecretRequestSchema,
  DeploySecretsRequestSchema,
  GetSecretRequestSchema,
  ListSecretsRequestSchema,
  SecretService,
  UpdateSecretRequestSchema,
} from "../../src/gen/credbroker/v1/secret_service_pb.ts";
import { startTestBroker, type TestBroker } from "../support/broker.ts";

/** mulberry32: small, seeded, good enough to pick mutations reproducibly. */
function createRandom(seed: number) {
  let state = seed >>> 0;
  const next = () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const int = (n: number) => Math.floor(next() * n);
  return {
    int,
    pick: <T>(items: readonly T[]): T => items[int(items.length)]!,
    bytes: (n: number) => Uint8Array.from({ length: n }, () => int(256)),
    chance: (p: number) => next() < p,
  };
}
type Random = ReturnType<typeof createRandom>;

const seed = Number(process.env["FUZZ_SEED"] ?? randomBytes(4).readUInt32BE(0));
const casesPerListenerAndEncoding = 300;
const apiKey = (value: string) => ({ kind: { case: "apiKey" as const, value: { keyName: "X-Api-Key", keyValue: value } } });

interface Method {
  service: string;
  name: string;
  admin: boolean;
  /** Valid requests to mutate; none names a seeded secret. */
  bases: Uint8Array[];
}

function bin<I extends DescMessage>(schema: I, init: MessageInitShape<I>): Uint8Array {
  return toBinary(schema, create(schema, init));
}

const methods: Method[] = [
  {
    service: SecretService.typeName,
    name: "CreateSecret",
    admin: true,
    bases: [
      bin(CreateSecretRequestSchema, { mode: Mode.TEST, name: "fuzz-base", description: "d", credentials: apiKey("v") }),
      bin(CreateSecretRequestSchema, {
        mode: Mode.LIVE,
        name: "fuzz-json",
        credentials: { kind: { case: "jsonCredentials", value: { json: '{"a":1}' } } },
      }),
      bin(CreateSecretRequestSchema, {
        mode: Mode.TEST,
        name: "fuzz-sftp",
        credentials: { kind: { case: "sftpPrivateKey", value: { username: "u", privateKey: "-----BEGIN OPENSSH PRIVATE KEY-----\nAAAA\n-----END OPENSSH PRIVATE KEY-----\n" } } },
      }),
    ],
  },
  { service: SecretService.typeName, name: "GetSecret", admin: true, bases: [bin(GetSecretRequestSchema, { mode: Mode.TEST, name: "fuzz-base" })] },
  {
    service: SecretService.typeName,
    name: "ListSecrets",
    admin: true,
    bases: [bin(ListSecretsRequestSchema, { mode: Mode.TEST, pageSize: 2, pageToken: "" }), bin(ListSecretsRequestSchema, { mode: Mode.LIVE, pageToken: "abc" })],
  },
  {
    service: SecretService.typeName,
    name: "UpdateSecret",
    admin: true,
    bases: [bin(UpdateSecretRequestSchema, { mode: Mode.TEST, name: "fuzz-base", description: "x", credentials: apiKey("w"), expectedVersion: 1n })],
  },
  { service: SecretService.typeName, name: "DeleteSecret", admin: true, bases: [bin(DeleteSecretRequestSchema, { mode: Mode.TEST, name: "fuzz-base" })] },
  { service: SecretService.typeName, name: "DeploySecrets", admin: true, bases: [bin(DeploySecretsRequestSchema, { names: ["fuzz-base", "fuzz-sftp"] })] },
  {
    service: InjectService.typeName,
    name: "Inject",
    admin: false,
    bases: [bin(InjectRequestSchema, { mode: Mode.TEST, name: "fuzz-base", step: StepKind.CODE }), bin(InjectRequestSchema, { mode: Mode.LIVE, name: "fuzz-json" })],
  },
];

/** A varint of up to 10 bytes, 0xff-heavy: over 64 bits when long. */
function hugeVarint(random: Random): Uint8Array {
  const length = 1 + random.int(12);
  return Uint8Array.from({ length }, (_, i) => (i === length - 1 ? random.int(128) : 0x80 | random.int(128)));
}

/** A valid message broken one of several ways. */
function mutateBinary(random: Random, base: Uint8Array): Uint8Array {
  const bytes = Uint8Array.from(base);
  switch (random.int(8)) {
    case 0: {
      for (let flips = 1 + random.int(8); flips > 0 && bytes.length > 0; flips--) {
        bytes[random.int(bytes.length)]! ^= 1 << random.int(8);
      }
      return bytes;
    }
    case 1:
      return bytes.subarray(0, random.int(bytes.length));
    case 2:
      return random.bytes(random.int(300));
    case 3: {
      // a field tag followed by an over-long varint (as a value, or as a length)
      const tag = ((1 + random.int(6)) << 3) | random.pick([0, 2]);
      return concat(bytes, Uint8Array.of(tag), hugeVarint(random));
    }
    case 4: {
      // an existing field's wire type changed
      if (bytes.length > 0) {
        bytes[0] = (bytes[0]! & ~7) | random.pick([0, 1, 2, 3, 4, 5, 6, 7]);
      }
      return bytes;
    }
    case 5: {
      // a length-delimited field whose length runs past the end
      const field = 1 + random.int(6);
      return concat(bytes, Uint8Array.of((field << 3) | 2), hugeVarint(random), random.bytes(random.int(20)));
    }
    case 6: {
      // random bytes spliced in
      const at = random.int(bytes.length + 1);
      return concat(bytes.subarray(0, at), random.bytes(1 + random.int(30)), bytes.subarray(at));
    }
    default: {
      // an unknown field, a deep group, or an enum far out of range
      return random.pick([
        concat(bytes, Uint8Array.of(0xf8, 0xff, 0xff, 0xff, 0x0f, 0x01)),
        concat(bytes, new Uint8Array(200).fill(0x0b)),
        concat(bytes, Uint8Array.of(0x08), hugeVarint(random)),
      ]);
    }
  }
}

function concat(...parts: Uint8Array[]): Uint8Array {
  return Uint8Array.from(Buffer.concat(parts));
}

const jsonKeys = [
  "mode", "name", "description", "credentials", "pageSize", "pageToken", "expectedVersion", "names", "step",
  "apiKey", "keyName", "keyValue", "basicAuth", "username", "password", "bearerToken", "token",
  "jsonCredentials", "json", "sftpPrivateKey", "privateKey", "passphrase", "sftpPassword", "@type", "__proto__", "constructor",
];
const jsonStrings = [
  "", "MODE_TEST", "MODE_LIVE", "MODE_UNSPECIFIED", "STEP_KIND_CODE", "SECRET_TYPE_API_KEY", "fuzz-x", "Bad Name", "a".repeat(70),
  "\u0000", "\ud800", "é", "../../etc", "1e400", "-1", "18446744073709551616", "NaN", "x".repeat(70_000),
];

/** Text of a random JSON value (not always valid JSON: huge numbers, deep nesting). */
function randomJson(random: Random, depth = 0): string {
  const kind = depth > 4 ? random.int(4) : random.int(8);
  switch (kind) {
    case 0:
      return JSON.stringify(random.pick(jsonStrings));
    case 1:
      return random.pick(["0", "-1", "1", "2", "99", "1e400", "-1e400", "18446744073709551616", "3.5", "-0", "1E+2", "9007199254740993", "0x10"]);
    case 2:
      return random.pick(["true", "false", "null"]);
    case 3:
      return JSON.stringify(String.fromCharCode(...Array.from({ length: random.int(20) }, () => random.int(0xffff))));
    case 4:
    case 5: {
      const fields = Array.from({ length: random.int(5) }, () => `${JSON.stringify(random.pick(jsonKeys))}:${randomJson(random, depth + 1)}`);
      return `{${fields.join(",")}}`;
    }
    case 6:
      return `[${Array.from({ length: random.int(4) }, () => randomJson(random, depth + 1)).join(",")}]`;
    default: {
      const n = random.pick([10, 100, 5000]);
      return random.chance(0.5) ? "[".repeat(n) + "]".repeat(n) : `${'{"credentials":'.repeat(n)}{}${"}".repeat(n)}`;
    }
  }
}

/** A JSON body: a random value, a valid request with one field of the wrong type, or broken text and bytes. */
function jsonBody(random: Random): Uint8Array {
  const valid = { mode: "MODE_TEST", name: "fuzz-j", credentials: { apiKey: { keyName: "K", keyValue: "v" } }, pageSize: 1 };
  switch (random.int(4)) {
    case 0:
      return Buffer.from(randomJson(random));
    case 1: {
      const key = random.pick(Object.keys(valid));
      const text = JSON.stringify(valid).replace(new RegExp(`"${key}":(\\{[^]*?\\}\\}|"[^"]*"|\\d+)`), `"${key}":${randomJson(random, 3)}`);
      return Buffer.from(text);
    }
    case 2: {
      // invalid UTF-8 inside a string
      const text = Buffer.from(JSON.stringify(valid));
      const at = 1 + random.int(text.length - 2);
      return concat(text.subarray(0, at), random.pick([Uint8Array.of(0xff), Uint8Array.of(0xc3, 0x28), Uint8Array.of(0xed, 0xa0, 0x80), Uint8Array.of(0xf8, 0x88, 0x80, 0x80, 0x80)]), text.subarray(at));
    }
    default: {
      const text = Buffer.from(JSON.stringify(valid));
      return random.chance(0.5) ? text.subarray(0, random.int(text.length)) : mutateBinary(random, text);
    }
  }
}

/** A gRPC(-Web) length-prefixed frame around a message. */
function grpcFrame(message: Uint8Array): Uint8Array {
  const head = Buffer.alloc(5);
  head.writeUInt32BE(message.length, 1);
  return Uint8Array.from(Buffer.concat([head, message]));
}

/** The status of a gRPC-Web answer: from the headers, or from the trailer frame. */
function grpcWebCode(headers: Headers, body: Uint8Array): string {
  let status = headers.get("grpc-status");
  for (let offset = 0; status === null && offset + 5 <= body.length; ) {
    const length = Buffer.from(body.subarray(offset + 1, offset + 5)).readUInt32BE(0);
    if ((body[offset]! & 0x80) !== 0) {
      status = /grpc-status:\s*(\d+)/i.exec(Buffer.from(body.subarray(offset + 5, offset + 5 + length)).toString())?.[1] ?? null;
    }
    offset += 5 + length;
  }
  return status === null ? "grpc-web without status" : status === "0" ? "ok" : grpc.status[Number(status)]!.toLowerCase();
}

describe("fuzzing both listeners", () => {
  let tb: TestBroker;
  const seeded = new Map<string, { mode: Mode; value: string }>();
  const unhandled: unknown[] = [];
  const onUnhandled = (reason: unknown) => unhandled.push(reason);
  beforeAll(async () => {
    process.on("unhandledRejection", onUnhandled);
    tb = await startTestBroker({ logLevel: "warn" });
    const admin = tb.connect(SecretService, tb.adminToken);
    for (let i = 0; i < 10; i++) {
      const name = `keep-${randomBytes(4).toString("hex")}`;
      const mode = i % 2 === 0 ? Mode.TEST : Mode.LIVE;
      const value = `kept-value-${i}-${randomBytes(6).toString("hex")}`;
      await admin.createSecret({ mode, name, credentials: apiKey(value) });
      seeded.set(name, { mode, value });
    }
  });
  afterAll(async () => {
    process.off("unhandledRejection", onUnhandled);
    await tb.close();
  });

  it("never crashes, never answers INTERNAL or UNKNOWN, and leaves the stored data intact", { timeout: 120_000 }, async () => {
    console.log(`fuzz seed ${seed} (FUZZ_SEED=${seed} reproduces it)`);
    const random = createRandom(seed);
    const histogram = new Map<string, number>();
    const faults: string[] = [];
    const count = (listener: string, code: string, what: string, body: Uint8Array) => {
      histogram.set(`${listener} ${code}`, (histogram.get(`${listener} ${code}`) ?? 0) + 1);
      if (code === "internal" || code === "unknown" || code.startsWith("transport") || code === "http 500" || code.startsWith("grpc-web without")) {
        faults.push(`${listener} ${what}: ${code} for ${Buffer.from(body).toString("base64").slice(0, 200)}`);
      }
    };
    let sent = 0;

    // gRPC on both listeners: mutated protobuf in gRPC frames, through a raw grpc-js client with identity serializers
    for (const [listener, address] of [
      ["grpc", tb.broker.grpcAddress],
      ["http-listener grpc", tb.broker.httpAddress!],
    ] as const) {
      const client = new grpc.Client(address, grpc.credentials.createInsecure());
      const grpcCall = (method: Method, body: Uint8Array) =>
        new Promise<string>((resolve) => {
          const metadata = new grpc.Metadata();
          if (method.admin) {
            metadata.set("authorization", `Bearer ${tb.adminToken}`);
          }
          client.makeUnaryRequest(
            `/${method.service}/${method.name}`,
            (b: Buffer) => b,
            (b: Buffer) => b,
            Buffer.from(body),
            metadata,
            { deadline: Date.now() + 10_000 },
            (error) => resolve(error === null ? "ok" : grpc.status[error.code]!.toLowerCase()),
          );
        });
      for (let i = 0; i < casesPerListenerAndEncoding; i += 20) {
        await Promise.all(
          Array.from({ length: 20 }, async () => {
            const method = random.pick(methods);
            const body = mutateBinary(random, random.pick(method.bases));
            sent++;
            count(listener, await grpcCall(method, body), `${method.name}`, body);
          }),
        );
      }
      client.close();
    }

    // HTTP listener: the Connect protocol with application/proto and application/json bodies
    const httpCall = async (method: Method, contentType: string, body: Uint8Array): Promise<string> => {
      try {
        const res = await fetch(`http://${tb.broker.httpAddress}/${method.service}/${method.name}`, {
          method: "POST",
          headers: { "content-type": contentType, ...(method.admin ? { authorization: `Bearer ${tb.adminToken}` } : {}) },
          body,
          signal: AbortSignal.timeout(10_000),
        });
        if (contentType.startsWith("application/grpc-web")) {
          return grpcWebCode(res.headers, new Uint8Array(await res.arrayBuffer()));
        }
        const text = await res.text();
        if (res.status === 200) {
          return "ok";
        }
        try {
          return String((JSON.parse(text) as { code?: string }).code ?? `http ${res.status}`);
        } catch {
          return `http ${res.status}`;
        }
      } catch (error) {
        return `transport ${String(error)}`;
      }
    };
    for (const [contentType, make] of [
      ["application/proto", (method: Method) => mutateBinary(random, random.pick(method.bases))],
      ["application/json", () => jsonBody(random)],
      ["application/grpc-web+proto", (method: Method) => grpcFrame(mutateBinary(random, random.pick(method.bases)))],
    ] as const) {
      for (let i = 0; i < casesPerListenerAndEncoding; i += 20) {
        await Promise.all(
          Array.from({ length: 20 }, async () => {
            const method = random.pick(methods);
            const body = make(method);
            sent++;
            count(`http-listener ${contentType.slice("application/".length)}`, await httpCall(method, contentType, body), method.name, body);
          }),
        );
      }
    }

    const internal = [...histogram].filter(([key]) => / (internal|unknown)$/.test(key)).reduce((n, [, c]) => n + c, 0);
    console.log(
      `fuzz: ${sent} cases sent, crashes ${unhandled.length}, INTERNAL/UNKNOWN answers ${internal}\n` +
        [...histogram].sort().map(([key, n]) => `  ${key}: ${n}`).join("\n"),
    );
    expect(faults).toEqual([]);
    expect(unhandled).toEqual([]);
    expect(sent).toBeGreaterThanOrEqual(1000);

    // still serving, and the data is intact: every seeded secret Injects its exact value at version 1 on both listeners
    for (const [name, { mode, value }] of seeded) {
      for (const inject of [tb.connect(InjectService), tb.grpcOverConnect(InjectService)]) {
        const res = await inject.inject({ mode, name });
        expect(res.secret?.version).toBe(1n);
        expect(res.material.case === "http" ? res.material.value.headers[0]?.value : undefined).toBe(value);
      }
    }
    // every record opens, and beyond the seeded ones there are only what the fuzz itself validly created
    const admin = tb.connect(SecretService, tb.adminToken);
    const made: string[] = [];
    for (const mode of [Mode.TEST, Mode.LIVE]) {
      const label = mode === Mode.TEST ? "test" : "live";
      let pageToken = "";
      let inMode = 0;
      do {
        const page = await admin.listSecrets({ mode, pageSize: 100, pageToken });
        for (const secret of page.secrets) {
          inMode++;
          if (!seeded.has(secret.name)) {
            made.push(`${label}/${secret.name}`);
            expect(secret.name).not.toMatch(/^keep-/);
          }
          const res = await tb.connect(InjectService).inject({ mode, name: secret.name, step: StepKind.CODE }).catch((error: unknown) => error);
          expect(res).not.toMatchObject({ code: expect.any(Number) });
        }
        pageToken = page.nextPageToken;
      } while (pageToken !== "");
      expect(inMode - made.filter((m) => m.startsWith(`${label}/`)).length).toBe([...seeded.values()].filter((s) => s.mode === mode).length);
    }
    console.log(`fuzz: ${seeded.size} seeded secrets intact; ${made.length} records the fuzz validly created: ${made.join(", ")}`);
  });
});
