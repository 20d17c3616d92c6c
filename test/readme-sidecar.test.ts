import { execFile, spawnSync } from "node:child_process";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Mode, SecretType } from "../src/gen/credbroker/v1/secret_pb.ts";
import { SecretService } from "../src/gen/credbroker/v1/secret_service_pb.ts";
import { readmeBlocks } from "./support/readme-blocks.ts";
import { startTestBroker, type TestBroker } from "./support/broker.ts";
import { debianPython, pythonModule } from "./support/python.ts";

const run = promisify(execFile);
const root = join(import.meta.dirname, "..");
const section = "Running as a sidecar";
const injectToken = "readme-inject-token-6f0c2e9a41b7d385";
/** The README's addresses: the listeners' defaults. */
const grpcDefault = "127.0.0.1:7390";
const httpDefault = "127.0.0.1:7391";

/** A shell block's commands: continued lines joined, comments and blank lines dropped. */
function commands(block: string): string[] {
  return block
    .replace(/\\\n\s*/g, "")
    .split("\n")
    .map((line) => line.trim())
    .filter((line) => line !== "" && !line.startsWith("#"));
}

/** The commands of the section's one shell block where every command (or, with `some`, one) starts with `prefix`. */
async function block(prefix: string, which: "every" | "some" = "every"): Promise<string[]> {
  const found = (await readmeBlocks(section, "sh")).map(commands).filter((lines) => lines[which]((line) => line.startsWith(prefix)));
  expect(found, `one block of "${prefix}" commands`).toHaveLength(1);
  return found[0]!;
}

/** What the README's claims rest on in the Dockerfile: the HEALTHCHECK command, USER, ENV. */
async function dockerfile(): Promise<{ healthcheck: string[]; uid: number; gid: number; env: Record<string, string> }> {
  const text = (await readFile(join(root, "Dockerfile"), "utf8"))
    .split("\n")
    .filter((line) => !line.trimStart().startsWith("#"))
    .join("\n")
    .replace(/\\\n/g, " ");
  const healthcheck = /^HEALTHCHECK .*\bCMD (\[.*\])\s*$/m.exec(text)?.[1];
  const user = /^USER (\d+):(\d+)\s*$/m.exec(text);
  const env = [...text.matchAll(/^ENV (.*)$/gm)].flatMap((m) => m[1]!.trim().split(/\s+/)).map((pair) => [pair.slice(0, pair.indexOf("=")), pair.slice(pair.indexOf("=") + 1)]);
  expect(healthcheck, "an exec-form HEALTHCHECK").toBeDefined();
  expect(user, "a numeric USER").not.toBeNull();
  return { healthcheck: JSON.parse(healthcheck!) as string[], uid: Number(user![1]), gid: Number(user![2]), env: Object.fromEntries(env) };
}

// Debian's python3-yaml: a real YAML parser for the pod spec
const yaml = pythonModule("yaml", "python3-yaml");

function loadYaml(text: string): unknown[] {
  const loaded = spawnSync(debianPython, ["-c", "import json, sys, yaml; json.dump(list(yaml.safe_load_all(sys.stdin)), sys.stdout)"], {
    input: text,
    encoding: "utf8",
  });
  expect(loaded.stderr).toBe("");
  return JSON.parse(loaded.stdout) as unknown[];
}

interface SecretKeyRef {
  name: string;
  key: string;
}

interface Container {
  name: string;
  restartPolicy?: string;
  env?: { name: string; value?: string; valueFrom?: { secretKeyRef?: SecretKeyRef } }[];
  volumeMounts?: { name: string; mountPath: string }[];
  securityContext?: Record<string, unknown>;
  startupProbe?: { exec?: { command: string[] } };
  livenessProbe?: { exec?: { command: string[] } };
  ports?: unknown[];
}

describe("the README's sidecar section works as written", () => {
  let tb: TestBroker;
  let work: string;
  beforeAll(async () => {
    tb = await startTestBroker({ injectToken: { value: injectToken, source: "test" } });
    work = await mkdtemp(join(tmpdir(), "credbroker-readme-sidecar-"));
  });
  afterAll(async () => {
    await tb?.close();
    if (work !== undefined) await rm(work, { recursive: true, force: true });
  });

  /** Runs a README command line against the test broker's listeners. */
  function shell(line: string, env: Record<string, string> = {}) {
    const local = line.replaceAll(grpcDefault, tb.broker.grpcAddress).replaceAll(httpDefault, tb.broker.httpAddress!);
    return run("bash", ["--norc", "-euo", "pipefail", "-c", local], {
      cwd: work,
      env: { PATH: `${join(root, "node_modules/.bin")}:${process.env["PATH"] ?? ""}`, ...env },
    });
  }

  it("runs the buf curl examples on both listeners, and the grpcurl examples ask for the same", async () => {
    const bufCurls = await block("buf curl");
    const outputs: { line: string; stdout: string }[] = [];
    for (const line of bufCurls) {
      const { stdout, stderr } = await shell(line, { TOKEN: tb.adminToken, INJECT_TOKEN: injectToken });
      expect({ line, stderr }).toEqual({ line, stderr: "" });
      outputs.push({ line, stdout });
    }
    const methods = outputs.find(({ line }) => line.includes("--list-methods"))!.stdout.trim().split("\n");
    expect(methods).toEqual(expect.arrayContaining(["credbroker.v1.InjectService/Inject", "credbroker.v1.SecretService/CreateSecret", "grpc.health.v1.Health/Check"]));
    const health = outputs.filter(({ line }) => line.endsWith("/grpc.health.v1.Health/Check"));
    expect(health.map(({ stdout }) => JSON.parse(stdout) as unknown)).toEqual([{ status: "SERVING" }]);
    const created = outputs.filter(({ line }) => line.endsWith("/credbroker.v1.SecretService/CreateSecret"));
    expect(created).toHaveLength(1);
    expect(JSON.parse(created[0]!.stdout)).toMatchObject({ secret: { name: "stripe-api-key", mode: "MODE_TEST", type: "SECRET_TYPE_API_KEY", version: "1" } });
    expect(created[0]!.stdout).not.toContain("sk_test_51H");
    const injects = outputs.filter(({ line }) => line.endsWith("/credbroker.v1.InjectService/Inject"));
    expect(injects.map(({ line }) => (line.includes(grpcDefault) ? "grpc" : line.includes(httpDefault) ? "http" : line))).toEqual(["grpc", "http"]);
    for (const { stdout } of injects) {
      expect(JSON.parse(stdout)).toMatchObject({ http: { headers: [{ name: "X-API-Key", value: "sk_test_51H" }] } });
    }

    // grpcurl does not install here: its examples are checked against what buf curl ran
    const [servicesShown] = await readmeBlocks(section, "text");
    const services = [...new Set(methods.map((method) => method.split("/")[0]!))].sort();
    expect(servicesShown!.trim().split("\n")).toEqual(services);
    for (const line of await block("grpcurl")) {
      const words = /^grpcurl -plaintext (?:.* )?127\.0\.0\.1:7390(?: (\S+))?(?: (\S+))?$/.exec(line);
      expect(words, line).not.toBeNull();
      const [, verb, symbol] = words!;
      if (verb === "list") continue;
      if (verb === "describe") {
        expect(services, line).toContain(symbol);
        continue;
      }
      expect(methods, line).toContain(verb);
      const twin = bufCurls.find((candidate) => candidate.endsWith(`http://${grpcDefault}/${verb}`));
      expect(twin, `a buf curl call of ${verb} on the gRPC listener`).toBeDefined();
      const flags = (text: string) => ({ header: /-H "([^"]*)"/.exec(text)?.[1], data: /-d '([^']*)'/.exec(text)?.[1] });
      expect(flags(line)).toEqual(flags(twin!));
    }
  });

  it("runs the CLI commands shown inside the container the way the image runs them", async () => {
    const { healthcheck, env } = await dockerfile();
    const [node, main] = healthcheck;
    const inContainer = /^(?:docker exec credbroker|kubectl exec(?: -i)? automations -c credbroker --) (.*)$/;
    const cli = (line: string) => {
      const command = inContainer.exec(line)?.[1];
      expect(command?.startsWith(`${node} ${main} `), `${line} runs ${node} ${main}`).toBe(true);
      return command!.replace(`${node} ${main}`, `${JSON.stringify(process.execPath)} ${JSON.stringify(join(root, "src/cli/main.ts"))}`);
    };
    // docker: no token configured, so the CLI reads the admin.token the broker generated in /data
    const dataDir = join(work, "data");
    await shell(`mkdir -p ${dataDir} && printf '%s\\n' ${tb.adminToken} > ${dataDir}/admin.token`);
    const containerEnv = { ...env, CREDBROKER_LISTEN: tb.broker.grpcAddress, CREDBROKER_DATA_DIR: dataDir };
    const docker = (await block("docker exec", "some")).filter((line) => line.startsWith("docker exec"));
    expect(docker).toHaveLength(2);
    for (const line of docker) {
      await shell(cli(line), containerEnv);
    }
    // kubectl: the pod gives the container CREDBROKER_ADMIN_TOKEN
    await writeFile(join(work, "github-token.txt"), "ghp_from_a_file\n");
    for (const line of await block("kubectl exec")) {
      await shell(cli(line), { ...containerEnv, CREDBROKER_DATA_DIR: join(work, "no-data"), CREDBROKER_ADMIN_TOKEN: tb.adminToken });
    }
    const secrets = tb.connect(SecretService, tb.adminToken);
    expect((await secrets.getSecret({ mode: Mode.TEST, name: "github-token" })).secret).toMatchObject({ type: SecretType.BEARER_TOKEN });
  });

  it.skipIf(!yaml.available)(`shows a pod spec that parses and agrees with the Dockerfile and the Secret${yaml.available ? "" : ` (skipped: ${yaml.reason})`}`, async () => {
    const { healthcheck, uid, gid, env } = await dockerfile();
    const [spec] = await readmeBlocks(section, "yaml");
    const [pod, claim] = loadYaml(spec!) as [
      { kind: string; spec: { securityContext: { fsGroup: number }; initContainers: Container[]; containers: Container[]; volumes: { name: string; persistentVolumeClaim?: { claimName: string } }[] } },
      { kind: string; metadata: { name: string } },
    ];
    expect([pod.kind, claim.kind]).toEqual(["Pod", "PersistentVolumeClaim"]);

    const broker = pod.spec.initContainers.find((container) => container.name === "credbroker")!;
    expect(broker.restartPolicy).toBe("Always");
    expect(broker.startupProbe?.exec?.command).toEqual(healthcheck);
    expect(broker.livenessProbe?.exec?.command).toEqual(healthcheck);
    expect(broker.securityContext).toMatchObject({ runAsNonRoot: true, runAsUser: uid, runAsGroup: gid, readOnlyRootFilesystem: true });
    expect(pod.spec.securityContext.fsGroup).toBe(gid);
    expect(broker.ports, "loopback listeners: no ports to declare").toBeUndefined();

    const [mount] = broker.volumeMounts!;
    expect(mount!.mountPath).toBe(env["CREDBROKER_DATA_DIR"]);
    const volume = pod.spec.volumes.find((candidate) => candidate.name === mount!.name);
    expect(volume?.persistentVolumeClaim?.claimName).toBe(claim.metadata.name);

    // every secretKeyRef names the Secret that the kubectl line creates, and one of its keys
    const create = (await block("kubectl create secret"))[0]!;
    const secretName = /^kubectl create secret generic (\S+)/.exec(create)![1];
    const keys = [...create.matchAll(/--from-literal=([\w-]+)=/g)].map((m) => m[1]);
    const refs = (container: Container): Record<string, SecretKeyRef> =>
      Object.fromEntries((container.env ?? []).flatMap((entry): [string, SecretKeyRef][] => (entry.valueFrom?.secretKeyRef ? [[entry.name, entry.valueFrom.secretKeyRef]] : [])));
    const brokerRefs = refs(broker);
    expect(Object.keys(brokerRefs).sort()).toEqual(["CREDBROKER_ADMIN_TOKEN", "CREDBROKER_INJECT_TOKEN", "CREDBROKER_MASTER_KEY"]);
    const engine = pod.spec.containers.find((container) => container.name === "engine")!;
    for (const ref of [...Object.values(brokerRefs), ...Object.values(refs(engine))]) {
      expect(ref.name).toBe(secretName);
      expect(keys).toContain(ref.key);
    }
    expect(refs(engine)["CREDBROKER_INJECT_TOKEN"]).toEqual(brokerRefs["CREDBROKER_INJECT_TOKEN"]);
    expect(engine.env?.find((entry) => entry.name === "CREDBROKER_ADDR")?.value).toBe(grpcDefault);
  });
});
