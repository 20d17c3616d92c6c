/**
 * Interop in fleet mode: Python's grpcio, a client the broker does not ship,
 * writes through one sidecar's gRPC listener and injects through another's,
 * and sees each change there once it has propagated.
 */
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { create, fromBinary, toBinary, type DescMessage, type MessageInitShape } from "@bufbuild/protobuf";
import { beforeAll, describe, expect, it } from "vitest";
import { InjectRequestSchema, InjectResponseSchema } from "../../src/gen/credbroker/v1/inject_service_pb.ts";
import { Mode } from "../../src/gen/credbroker/v1/secret_pb.ts";
import { CreateSecretRequestSchema, UpdateSecretRequestSchema } from "../../src/gen/credbroker/v1/secret_service_pb.ts";
import { type Sidecar, bearer, fleetSuite, useFleet } from "../support/fleet.ts";
import { debianPython, pythonModule } from "../support/python.ts";

/**
 * One unary call with grpcio's generic stub (raw bytes in and out), sent
 * again every 20 ms while it answers `retry_on` (for a change that has not
 * reached the sidecar yet), for at most 10 s; prints the last code and the
 * answer's hex.
 */
const pythonCall = `
import grpc, json, sys, time
address, method, request, token, retry_on = sys.argv[1], sys.argv[2], bytes.fromhex(sys.argv[3]), sys.argv[4], sys.argv[5]
metadata = [("authorization", "Bearer " + token)] if token else []
deadline = time.monotonic() + 10
with grpc.insecure_channel(address) as channel:
    call = channel.unary_unary(method, request_serializer=None, response_deserializer=None)
    while True:
        try:
            answer = call(request, timeout=10, metadata=metadata)
            print(json.dumps({"code": "OK", "answer": answer.hex()}))
            break
        except grpc.RpcError as error:
            if error.code().name != retry_on or time.monotonic() > deadline:
                print(json.dumps({"code": error.code().name, "answer": ""}))
                break
            time.sleep(0.02)
`;

const suite = fleetSuite("a fleet reached by Python grpcio");
const pythonCheck = pythonModule("grpc", "python3-grpcio");

describe.skipIf(suite.skip || !pythonCheck.available)(`${suite.title}${pythonCheck.available ? "" : ` (skipped: ${pythonCheck.reason})`}`, () => {
  const setup = useFleet();
  let writer: Sidecar;
  let reader: Sidecar;

  beforeAll(async () => {
    [writer, reader] = await setup.fleet.startAll(["python-a", "python-b"]);
  }, 60_000);

  /** A call through grpcio: its code and, when OK, the answer's bytes. */
  async function call<I extends DescMessage>(
    address: string,
    method: string,
    schema: I,
    init: MessageInitShape<I>,
    options: { token?: string; retryOn?: string } = {},
  ): Promise<{ code: string; answer: Uint8Array }> {
    const request = Buffer.from(toBinary(schema, create(schema, init))).toString("hex");
    const { stdout } = await promisify(execFile)(debianPython, ["-c", pythonCall, address, method, request, options.token ?? "", options.retryOn ?? "-"]);
    const { code, answer } = JSON.parse(stdout) as { code: string; answer: string };
    return { code, answer: Buffer.from(answer, "hex") };
  }

  const inject = (sidecar: Sidecar, retryOn?: string) =>
    call(sidecar.process.grpcAddress, "/credbroker.v1.InjectService/Inject", InjectRequestSchema, { mode: Mode.TEST, name: "from-python" }, retryOn === undefined ? {} : { retryOn });

  const authorization = (answer: Uint8Array) => {
    const material = fromBinary(InjectResponseSchema, answer).material;
    return material.case === "http" ? material.value.headers.find((header) => header.name === "Authorization")?.value : undefined;
  };

  it("creates and updates on one sidecar, and injects the new value on the other once it has propagated", { timeout: 60_000 }, async () => {
    const admin = { token: setup.fleet.adminToken };
    expect((await inject(reader)).code).toBe("NOT_FOUND");

    const created = await call(
      writer.process.grpcAddress,
      "/credbroker.v1.SecretService/CreateSecret",
      CreateSecretRequestSchema,
      { mode: Mode.TEST, name: "from-python", credentials: bearer("python-first") },
      admin,
    );
    expect(created.code).toBe("OK");
    const first = await inject(reader, "NOT_FOUND");
    expect(first.code).toBe("OK");
    expect(authorization(first.answer)).toBe("Bearer python-first");

    const updated = await call(
      writer.process.grpcAddress,
      "/credbroker.v1.SecretService/UpdateSecret",
      UpdateSecretRequestSchema,
      { mode: Mode.TEST, name: "from-python", credentials: bearer("python-second"), expectedVersion: 1n },
      admin,
    );
    expect(updated.code).toBe("OK");
    // until the update arrives the reader serves version 1: poll for version 2
    let answer = await inject(reader);
    for (const until = Date.now() + 10_000; fromBinary(InjectResponseSchema, answer.answer).secret?.version !== 2n && Date.now() < until; ) {
      await new Promise((resolve) => setTimeout(resolve, 20));
      answer = await inject(reader);
    }
    expect(answer.code).toBe("OK");
    expect(fromBinary(InjectResponseSchema, answer.answer).secret?.version).toBe(2n);
    expect(authorization(answer.answer)).toBe("Bearer python-second");

    // an admin call without the token is refused by the sidecar as by a standalone broker
    const refused = await call(
      reader.process.grpcAddress,
      "/credbroker.v1.SecretService/CreateSecret",
      CreateSecretRequestSchema,
      { mode: Mode.TEST, name: "no-token", credentials: bearer("never-stored") },
    );
    expect(refused.code).toBe("UNAUTHENTICATED");
  });
});
