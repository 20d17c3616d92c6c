import type { RefObject } from "react";
import type { Secret } from "../../src/gen/credbroker/v1/secret_pb.ts";

interface DeployResultProps {
  headingRef: RefObject<HTMLHeadingElement | null>;
  /** The Live secrets the deploy wrote. */
  secrets: Secret[];
  onShowLive(): void;
  onBack(): void;
}

/** What a deploy did in Live: a secret at version 1 is new there, any later version replaced one. */
export function DeployResult({ headingRef, secrets, onShowLive, onBack }: DeployResultProps) {
  return (
    <section aria-labelledby="deploy-result-title">
      <h1 id="deploy-result-title" ref={headingRef} tabIndex={-1}>
        Deployed to Live
      </h1>
      <p role="status">
        {secrets.length} {secrets.length === 1 ? "secret was" : "secrets were"} copied from Test to Live.
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
          {secrets.map((secret) => (
            <tr key={secret.name}>
              <th scope="row" className="name">
                {secret.name}
              </th>
              <td>{secret.version === 1n ? "Created" : "Replaced"}</td>
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
