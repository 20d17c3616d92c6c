import * as grpc from "@grpc/grpc-js";
import type { ConnectionGate } from "../connection-gate.ts";

/** Counts each call (of every service) on its connection for the gate; a unix socket's peer is "unknown", which no connection has. */
export function countCalls(gate: ConnectionGate): grpc.ServerInterceptor {
  return (_method, call) => {
    const key = call.getPeer();
    let ended = false;
    const end = () => {
      if (!ended) {
        ended = true;
        gate.callEnded(key);
      }
    };
    gate.callStarted(key);
    return new grpc.ServerInterceptingCall(call, {
      start: (next) => next({ onCancel: end }),
      sendStatus: (status, next) => {
        end();
        next(status);
      },
    });
  };
}
