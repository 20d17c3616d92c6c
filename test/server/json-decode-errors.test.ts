import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestBroker, type TestBroker } from "../support/broker.ts";
import { frame, http1Post, parseGrpcWebBody } from "../support/rpc-wire.ts";

const canary = "sekrit-canary-5f0a";
const createPath = "/credbroker.v1.SecretService/CreateSecret";
const injectPath = "/credbroker.v1.InjectService/Inject";

/** JSON bodies that do not decode, each quoting the canary where protobuf-es (or V8's JSON.parse) would echo it. */
const bodies: Record<string, string> = {
  "a token of the wrong JSON type": `{"mode":"MODE_TEST","name":"x","credentials":{"bearerToken":{"token":98765432109}}}`,
  "a password of the wrong JSON type": `{"mode":"MODE_TEST","name":"x","credentials":{"basicAuth":{"username":"u","password":1234567890123}}}`,
  "an unquoted token": `{"mode":"MODE_TEST","name":"x","credentials":{"bearerToken":{"token": ${canary}}}}`,
  "the token as an enum value": `{"mode":${JSON.stringify(canary)},"name":"x"}`,
  "the token as a key": `{"mode":"MODE_TEST","name":"x","credentials":{"bearerToken":{${JSON.stringify(canary)}:"v"}}}`,
  "a cut-off body": `{"mode":"MODE_TEST","name":"x","credentials":{"basicAuth":{"username":"u","password":"${canary}`,
};

describe("JSON that does not decode is refused without quoting it", () => {
  let tb: TestBroker;
  beforeAll(async () => {
    tb = await startTestBroker();
  });
  afterAll(() => tb?.close());

  it.each(Object.entries(bodies))("over Connect JSON and gRPC-Web JSON: %s", async (_case, body) => {
    const auth = { authorization: `Bearer ${tb.adminToken}` };
    const connect = await http1Post(tb.broker.httpAddress!, createPath, { "content-type": "application/json", ...auth }, Buffer.from(body));
    expect(connect.status).toBe(400);
    const error = JSON.parse(connect.body.toString("utf8")) as { code: string; message: string };
    expect(error.code).toBe("invalid_argument");
    const grpcWeb = await http1Post(
      tb.broker.httpAddress!,
      createPath,
      { "content-type": "application/grpc-web+json", "x-grpc-web": "1", ...auth },
      frame(Buffer.from(body)),
    );
    const trailer = parseGrpcWebBody(grpcWeb.body).trailer;
    expect(trailer?.["grpc-status"]).toBe("3");
    for (const answer of [connect.body.toString("utf8"), grpcWeb.body.toString("utf8"), decodeURIComponent(trailer?.["grpc-message"] ?? "")]) {
      expect(answer).not.toContain(canary);
      expect(answer).not.toContain("sekrit-can");
      expect(answer).not.toContain("98765432109");
      expect(answer).not.toContain("1234567890123");
    }
    expect(tb.logs()).not.toContain("sekrit-can");
  });

  it("keeps serving Inject after them", async () => {
    const answer = await http1Post(tb.broker.httpAddress!, injectPath, { "content-type": "application/json" }, Buffer.from(`{"mode":"MODE_TEST","name":"absent"}`));
    expect(JSON.parse(answer.body.toString("utf8"))).toMatchObject({ code: "not_found" });
  });
});
