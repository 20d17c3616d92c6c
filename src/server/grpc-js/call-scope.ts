import { Code, ConnectError } from "@connectrpc/connect";
import type * as grpc from "@grpc/grpc-js";
import type { CountedCall } from "./call-counter.ts";

/** What every kind of grpc-js server call has. */
export interface ServerCallSurface {
  readonly metadata: grpc.Metadata;
  getDeadline(): grpc.Deadline;
  once(event: "cancelled", listener: () => void): unknown;
}

/**
 * A grpc-js call's deadline and abort signal. The signal is made when first
 * asked for (most calls, a cached Inject among them, never look at it); it
 * aborts when the client cancels or the deadline passes, and, for a call
 * that asked for it, when the call ends (connect's HandlerContext contract).
 * The call's count on its connection is released when it ends, or when the
 * client cancels a call that made its signal (a stream waiting on it).
 */
export class CallScope {
  readonly call: ServerCallSurface;
  /** Epoch milliseconds; Infinity when the call has none. */
  readonly deadline: number;
  private controller: AbortController | undefined;
  private timer: NodeJS.Timeout | undefined;
  private ended = false;
  private readonly counted: CountedCall;

  constructor(call: ServerCallSurface, counted: CountedCall) {
    this.call = call;
    this.counted = counted;
    this.deadline = Number(call.getDeadline());
  }

  get signal(): AbortSignal {
    if (this.controller === undefined) {
      const made = new AbortController();
      this.controller = made;
      if (this.ended) {
        made.abort(new ConnectError("the call has ended", Code.Canceled));
        return made.signal;
      }
      // grpc-js emits "cancelled" when any call ends, answered ones too
      this.call.once("cancelled", () => {
        this.counted.release();
        if (!this.ended) {
          made.abort(new ConnectError("the client cancelled the call", Code.Canceled));
        }
      });
      if (Number.isFinite(this.deadline)) {
        this.timer = setTimeout(
          () => made.abort(new ConnectError("the deadline was exceeded", Code.DeadlineExceeded)),
          Math.max(0, this.deadline - Date.now()),
        );
      }
    }
    return this.controller.signal;
  }

  /** The time left before the deadline, in milliseconds; undefined when the call has none. */
  timeoutMs(): number | undefined {
    return Number.isFinite(this.deadline) ? this.deadline - Date.now() : undefined;
  }

  /** The call is over: the deadline timer goes, and a signal that was made aborts, releasing what waits on it. */
  end(): void {
    if (this.ended) {
      return;
    }
    this.ended = true;
    this.counted.release();
    clearTimeout(this.timer);
    this.controller?.abort(new ConnectError("the call has ended", Code.Canceled));
  }
}
