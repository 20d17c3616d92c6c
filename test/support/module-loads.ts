/**
 * Loaded into a broker process with `--import` (see start-up-modules.test.ts):
 * records every module it loads, ES or CommonJS, with how many servers were
 * listening at the time, and writes them to MODULE_LOADS_OUT as JSON lines
 * when the process exits.
 */
import { tracingChannel } from "node:diagnostics_channel";
import { writeFileSync } from "node:fs";
import { registerHooks } from "node:module";

/** One module the process loaded. */
export interface ModuleLoad {
  readonly url: string;
  /** Servers listening when it loaded. */
  readonly listening: number;
}

const out = process.env["MODULE_LOADS_OUT"];
if (out !== undefined) {
  const loads: ModuleLoad[] = [];
  let listening = 0;
  tracingChannel("net.server.listen").subscribe({ start() {}, end() {}, asyncStart() {}, error() {}, asyncEnd: () => void listening++ });
  registerHooks({
    load(url, context, nextLoad) {
      loads.push({ url, listening });
      return nextLoad(url, context);
    },
  });
  process.on("exit", () => writeFileSync(out, loads.map((load) => JSON.stringify(load)).join("\n")));
}
