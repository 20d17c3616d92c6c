import type { RefObject } from "react";
import type { DeploySecretsResponse } from "../../src/gen/credbroker/v1/secret_service_pb.ts";

interface DeployResultProps {
  headingRef: RefObject<HTMLHeadingElement | null>;
  /** What the deploy wrote in Live. */
  result: DeploySecretsResponse;
  onShowLive(): void;
  onBack(): void;
}

/** What a deploy did in Live: which secrets it created there and which it replaced. */
export function DeployResult({ headingRef, result, onShowLive, onBack }: DeployResultProps) {
  const created = new Set(result.createdNames);
  const count = result.secrets.length;
  return (
    <section aria-labelledby="deploy-result-title">
      <h1 id="deploy-result-title" ref={headingRef} tabIndex={-1}>
        Deployed to Live
      </h1>
      <p role="status" className="notice">
        {count} {count === 1 ? "secret was" : "secrets were"} copied from Test to Live.
      </p>
      <table className="secrets">
        <thead>
          <tr>
            <th scope="col">Name</th>
            <th scope="col">In Live</th>
            <th scope="col">Live version</th>
          </tr>
        </thead>
        <tbody>
          {result.secrets.map((secret) => (
            <tr key={secret.name}>
              <th scope="row" className="name">
                {secret.name}
              </th>
              <td>{created.has(secret.name) ? "Created" : "Replaced"}</td>
              <td>{secret.version.toString()}</td>
            </tr>
          ))}
        </tbody>
      </table>
      <div className="toolbar">
        <button type="button" className="primary" onClick={onShowLive}>
          Show Live secrets
        </button>
        <button type="button" onClick={onBack}>
          Back to Test
        </button>
      </div>
    </section>
  );
}
