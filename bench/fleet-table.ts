import { cpus, totalmem } from "node:os";

export const fmt = (n: number, digits = 0) => n.toLocaleString("en-US", { maximumFractionDigits: digits, minimumFractionDigits: digits });
/** Nearest-rank percentile of ascending values. */
export const rank = (sorted: readonly number[], q: number) => sorted[Math.max(0, Math.ceil(q * sorted.length) - 1)]!;

/** A row of the fleet table: case, value, p50, p99, max (ms), ratio, goal. */
export type FleetRow = [string, string, string, string, string, string, string];

/** A latency row over `values` in milliseconds. */
export function latencyRow(name: string, values: number[], goal: string): FleetRow {
  const sorted = [...values].sort((a, b) => a - b);
  return [name, `n=${values.length}`, fmt(rank(sorted, 0.5), 1), fmt(rank(sorted, 0.99), 1), fmt(sorted[sorted.length - 1]!, 1), "", goal];
}

/** Whether a figure met its goal, for the goal column. */
export const verdict = (met: boolean) => (met ? "met" : "MISSED");

/** Prints the fleet table under its header: how it ran, the machine and its load. */
export function printTable(rows: FleetRow[], notes: string[], loads: string[], options: { quick: boolean; pollMs: number }, seconds: number) {
  const header: FleetRow = ["case", "value", "p50 ms", "p99 ms", "max ms", "ratio", "goal"];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) => `| ${cells.map((c, i) => c.padEnd(widths[i]!)).join(" | ")} |`;
  console.log(
    `\ncredbroker bench, fleet rows${options.quick ? " --quick" : ""}: brokers in fleet mode as child processes on one PostgreSQL 15 ` +
      `(a throwaway cluster), each sidecar's Inject polled every ${options.pollMs} ms; ${fmt(seconds)} s`,
  );
  console.log(`machine: ${cpus().length} x ${cpus()[0]?.model ?? "cpu"}, ${fmt(totalmem() / 2 ** 30, 0)} GiB, Node ${process.version}; load average (1 min) ${loads.join(", ")}\n`);
  console.log(line(header));
  console.log(line(widths.map((w) => "-".repeat(w))));
  for (const r of rows) console.log(line(r));
  for (const note of notes) console.log(`\n${note}`);
}
