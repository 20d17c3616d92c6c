import { useState, type KeyboardEvent } from "react";
import { SecretType, type Mode } from "../../src/gen/credbroker/v1/secret_pb.ts";
import type { TestSecretResponse } from "../../src/gen/credbroker/v1/secret_service_pb.ts";
import type { AdminClient } from "./admin-client.ts";
import { describeError } from "./errors.ts";
import { toCredentials, type FieldValues, type TypeSpec } from "./secret-types.ts";
import { TestAnswer } from "./test-answer.tsx";
import { credentialProblems } from "./validate.ts";

interface TestButtonProps {
  client: AdminClient;
  mode: Mode;
  spec: TypeSpec;
  /** The form's values as they stand (list drafts included). */
  values: FieldValues;
  /** On the edit screen: the stored secret and the values the form started from, to test the saved secret while none was changed. */
  stored?: { name: string; values: FieldValues } | undefined;
}

const sftpTypes: ReadonlySet<SecretType> = new Set([SecretType.SFTP_PASSWORD, SecretType.SFTP_PRIVATE_KEY]);
const httpTypes: ReadonlySet<SecretType> = new Set([SecretType.BASIC_AUTH, SecretType.BEARER_TOKEN, SecretType.API_KEY]);
/** The page's words for the target fields the broker names in errors. */
const targetLabels: Record<string, string> = { "sftp.host": "Host", "sftp.port": "Port", "sftp.hostKeyFingerprint": "Host key fingerprint", "http.url": "Test URL", sftp: "Host" };

/**
 * The Test part of the create and edit screens: where to test (an SFTP
 * server, or an optional URL for Basic, Bearer and API Key), a Test button
 * and what the broker found. The values as typed are tested, or, on the
 * edit screen while no value was changed, the saved secret; nothing is saved.
 */
export function TestButton({ client, mode, spec, values, stored }: TestButtonProps) {
  const [host, setHost] = useState("");
  const [port, setPort] = useState("");
  const [fingerprint, setFingerprint] = useState("");
  const [url, setUrl] = useState("");
  const [busy, setBusy] = useState(false);
  const [answer, setAnswer] = useState<TestSecretResponse>();
  const [problem, setProblem] = useState<string>();
  const sftp = sftpTypes.has(spec.type);
  const http = httpTypes.has(spec.type);
  const changed = stored === undefined || spec.fields.some((field) => String(values[field.name] ?? "") !== String(stored.values[field.name] ?? ""));
  const storedName = changed ? undefined : stored?.name;

  const target = () => {
    if (sftp) {
      return { case: "sftp" as const, value: { host: host.trim(), port: port.trim() === "" ? 0 : Number(port), hostKeyFingerprint: fingerprint.trim() } };
    }
    return http && url.trim() !== "" ? { case: "http" as const, value: { url: url.trim() } } : { case: undefined };
  };

  const run = async () => {
    setAnswer(undefined);
    setProblem(undefined);
    if (storedName === undefined) {
      const found = Object.values(credentialProblems(spec, values));
      if (found.length > 0) {
        setProblem(`To test the values as typed, fill them in first: ${found.join(" ")}`);
        return;
      }
    }
    setBusy(true);
    try {
      const subject = storedName === undefined ? { credentials: toCredentials(spec, values) } : { name: storedName };
      setAnswer(await client.testSecret({ mode, ...subject, target: target() }));
    } catch (error) {
      const { field, message } = describeError(error);
      const label = field === undefined ? undefined : (targetLabels[field] ?? spec.fields.find((f) => f.path === field)?.label);
      setProblem(`Not tested: ${label === undefined ? "" : `${label}: `}${message}`);
    } finally {
      setBusy(false);
    }
  };
  // Enter in a test field tests; it must not save the form around it
  const onEnter = (event: KeyboardEvent) => {
    if (event.key === "Enter") {
      event.preventDefault();
      void run();
    }
  };

  return (
    <fieldset className="credentials" aria-describedby="test-hint">
      <legend>Test</legend>
      <p className="hint" id="test-hint">
        {storedName === undefined ? "Tries the values as typed, once, now; nothing is saved." : `Tries the saved ${storedName}, once, now.`}
        {spec.type === SecretType.OAUTH2_CLIENT_CREDENTIALS && " Requests a token from the token URL; the token is not kept."}
      </p>
      {sftp && (
        <>
          <TargetInput id="test-sftp-host" label="Host" value={host} onChange={setHost} onKeyDown={onEnter} hint="A host name or IP address." />
          <TargetInput id="test-sftp-port" label="Port" value={port} onChange={setPort} onKeyDown={onEnter} optional hint="22 if empty." />
          <TargetInput
            id="test-sftp-fingerprint"
            label="Host key fingerprint"
            value={fingerprint}
            onChange={setFingerprint}
            onKeyDown={onEnter}
            optional
            hint="SHA256:… as ssh-keygen -l prints it. Without it, a host that is not loopback gets no login: the test shows its fingerprint to pin."
          />
        </>
      )}
      {http && <TargetInput id="test-http-url" label="Test URL" value={url} onChange={setUrl} onKeyDown={onEnter} optional hint="HTTPS, or HTTP to a loopback host: one GET with this secret; only the status code is shown." />}
      <div className="toolbar">
        <button type="button" onClick={() => void run()} disabled={busy}>
          {busy ? "Testing…" : "Test"}
        </button>
      </div>
      <div role="status" aria-live="polite">
        {problem !== undefined && (
          <div className="error-panel">
            <p>{problem}</p>
          </div>
        )}
        {answer !== undefined && <TestAnswer answer={answer} onPin={sftp && fingerprint === "" ? setFingerprint : undefined} />}
      </div>
    </fieldset>
  );
}

interface TargetInputProps {
  id: string;
  label: string;
  value: string;
  hint: string;
  optional?: boolean;
  onChange(value: string): void;
  onKeyDown(event: KeyboardEvent): void;
}

function TargetInput({ id, label, value, hint, optional = false, onChange, onKeyDown }: TargetInputProps) {
  return (
    <div className="field">
      <label htmlFor={id}>
        {label}
        {optional && <span className="optional"> (optional)</span>}
      </label>
      <input id={id} type="text" value={value} autoComplete="off" spellCheck={false} aria-describedby={`${id}-hint`} onChange={(event) => onChange(event.target.value)} onKeyDown={onKeyDown} />
      <p className="hint" id={`${id}-hint`}>
        {hint}
      </p>
    </div>
  );
}
