import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { StatusService } from "../../src/gen/credbroker/v1/status_service_pb.ts";
import { startTestBroker, type TestBroker } from "../support/broker.ts";

describe("StatusService on a standalone broker", () => {
  let broker: TestBroker;
  beforeAll(async () => {
    broker = await startTestBroker({ instanceId: "status-test-1" });
  });
  afterAll(async () => {
    await broker?.close();
  });

  it("answers without a token: its instance id, not fleet mode, no replica", async () => {
    const status = await broker.grpcOverConnect(StatusService).getStatus({});
    expect(status.instanceId).toBe("status-test-1");
    expect(status.fleet).toBe(false);
    expect(status.replica).toBeUndefined();
  });
});
