import { Writable } from "node:stream";
import { createInterface } from "node:readline/promises";
import { CliError, type CliContext } from "./command.ts";

/** Questions on the terminal: prompts on stderr, answers from stdin. */
export interface Prompter {
  /** Asks one question; a hidden answer is not echoed. Ctrl-C rejects with a CliError. */
  ask(question: string, options?: { hidden?: boolean }): Promise<string>;
  close(): void;
}

/**
 * A prompter on the context's terminal. Hidden answers work by muting
 * readline's output while it reads: in terminal mode readline does the
 * echoing itself, so nothing typed reaches the screen.
 */
export function createPrompter(ctx: CliContext): Prompter {
  let muted = false;
  const output = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      if (!muted) {
        ctx.stderr.write(chunk);
      }
      callback();
    },
  });
  const rl = createInterface({ input: ctx.stdin, output, terminal: true });
  const cancelled = new AbortController();
  rl.on("SIGINT", () => cancelled.abort());
  return {
    async ask(question, { hidden = false } = {}) {
      // readline writes the question at once (and again on every redraw, so it must know it); mute what follows
      const answer = rl.question(question, { signal: cancelled.signal });
      muted = hidden;
      try {
        return await answer;
      } catch (cause) {
        throw cancelled.signal.aborted ? new CliError("ERR_CANCELLED", "cancelled") : cause;
      } finally {
        muted = false;
        if (hidden) {
          ctx.stderr.write("\n");
        }
      }
    },
    close: () => rl.close(),
  };
}

/** Asks a yes/no question on the terminal; only "y" or "yes" is yes. */
export async function confirm(ctx: CliContext, question: string): Promise<boolean> {
  const prompter = createPrompter(ctx);
  try {
    return /^y(es)?$/i.test((await prompter.ask(`${question} [y/N] `)).trim());
  } finally {
    prompter.close();
  }
}
