import { spawnSync } from "node:child_process";

/**
 * Debian's python3: .ci/run installs the Python packages of the tests for
 * it with apt (a pyenv python3 earlier on PATH cannot import them).
 */
export const debianPython = "/usr/bin/python3";

/** Whether the tests can use a Python module, and if not why. */
export type PythonModuleCheck = { available: true } | { available: false; reason: string };

/**
 * Whether Debian's python3 imports `module`. Missing, the tests that need it
 * skip with the reason, except under CI=true, where .ci/run has installed it
 * and a missing module is an error rather than a silent skip.
 */
export function pythonModule(module: string, debianPackage: string): PythonModuleCheck {
  if (spawnSync(debianPython, ["-c", `import ${module}`], { stdio: "ignore" }).status === 0) {
    return { available: true };
  }
  const reason = `${debianPython} cannot import ${module} (apt-get install ${debianPackage})`;
  if (process.env["CI"] === "true") {
    throw new Error(`tests that need ${module} cannot run in CI: ${reason}`);
  }
  return { available: false, reason };
}
