import type { TestSecretResponse } from "../../src/gen/credbroker/v1/secret_service_pb.ts";

/** The findings of a test as label/value pairs: what the type's test reports, never a value of the secret. */
export function testFindings(answer: TestSecretResponse): [string, string][] {
  const result = answer.result;
  switch (result.case) {
    case "oauth2": {
      const r = result.value;
      if (!r.granted) {
        return [["Failure", r.failure], ...(r.error === "" ? [] : [["OAuth error", r.error] as [string, string]])];
      }
      return [
        ["Token type", r.tokenType],
        ["Scopes", `${r.scopes.join(" ") || "none"}${r.scopesAsRequested ? " (as requested)" : ""}`],
        ["Lifetime", r.expiresIn === undefined ? "not given (no expires_in)" : `${r.expiresIn.seconds} s`],
      ];
    }
    case "sftp": {
      const r = result.value;
      const login: [string, string] = ["Login", !r.loginAttempted ? "not sent" : r.loginAccepted ? "accepted" : "refused"];
      if (!r.connected) {
        return [login];
      }
      return [["Host key", `${r.hostKeyAlgorithm} ${r.hostKeyFingerprint}`], ["Pinned key", r.hostKeyMatched ? "matches" : "not matched, or none given"], login];
    }
    case "http":
      return [["Status", result.value.sent ? (result.value.status === 0 ? "no response" : String(result.value.status)) : "no request (no URL)"]];
    case "json":
      return [["Members", String(result.value.memberCount)]];
    default:
      return [];
  }
}

interface TestAnswerProps {
  answer: TestSecretResponse;
  /** Pins the fingerprint the server showed, for an SFTP test whose key was not pinned. */
  onPin?: ((fingerprint: string) => void) | undefined;
}

/** What a test found: passed or failed, the broker's summary, and the findings. */
export function TestAnswer({ answer, onPin }: TestAnswerProps) {
  const sftp = answer.result.case === "sftp" ? answer.result.value : undefined;
  const pinnable = sftp !== undefined && sftp.connected && !sftp.hostKeyMatched && onPin !== undefined;
  return (
    <div className={answer.ok ? "notice" : "error-panel"}>
      <p>
        <strong>{answer.ok ? "Test passed" : "Test failed"}:</strong> {answer.summary}
      </p>
      <dl className="test-findings">
        {testFindings(answer).map(([label, value]) => (
          <div key={label}>
            <dt>{label}</dt>
            <dd>{value}</dd>
          </div>
        ))}
      </dl>
      {pinnable && (
        <button type="button" onClick={() => onPin(sftp.hostKeyFingerprint)}>
          Pin this host key
        </button>
      )}
    </div>
  );
}
