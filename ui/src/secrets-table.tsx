import { timestampDate } from "@bufbuild/protobuf/wkt";
import { Mode, type Secret } from "../../src/gen/credbroker/v1/secret_pb.ts";
import { typeSpecOf } from "./secret-types.ts";

interface SecretsTableProps {
  mode: Mode;
  secrets: Secret[];
  /** Names picked for deploy (Test only). */
  selected: ReadonlySet<string>;
  onSelect(name: string, selected: boolean): void;
  onEdit(secret: Secret): void;
  onDelete(name: string): void;
}

/** One page of secrets: metadata only, since the API never returns credential values. */
export function SecretsTable({ mode, secrets, selected, onSelect, onEdit, onDelete }: SecretsTableProps) {
  if (secrets.length === 0) {
    return <p className="empty">No secrets in this mode yet.</p>;
  }
  const test = mode === Mode.TEST;
  return (
    <table className="secrets">
      <caption className="visually-hidden">Secrets{test ? "; pick rows to deploy them to Live" : ""}</caption>
      <thead>
        <tr>
          {test && <th scope="col">Deploy</th>}
          <th scope="col">Name</th>
          <th scope="col">Type</th>
          <th scope="col">Description</th>
          <th scope="col">Version</th>
          <th scope="col">Updated</th>
          <th scope="col">Actions</th>
        </tr>
      </thead>
      <tbody>
        {secrets.map((secret) => (
          <tr key={secret.name}>
            {test && (
              <td>
                <input
                  type="checkbox"
                  aria-label={`Select ${secret.name} for deploy`}
                  checked={selected.has(secret.name)}
                  onChange={(event) => onSelect(secret.name, event.target.checked)}
                />
              </td>
            )}
            <th scope="row" className="name">
              {secret.name}
            </th>
            <td>{typeSpecOf(secret.type)?.label ?? "Unknown type"}</td>
            <td className="description">{secret.description}</td>
            <td>{secret.version.toString()}</td>
            <td className="updated">{secret.updateTime === undefined ? "" : formatTime(timestampDate(secret.updateTime))}</td>
            <td className="actions">
              <button type="button" onClick={() => onEdit(secret)} aria-label={`Edit ${secret.name}`}>
                Edit
              </button>
              {test && (
                <button type="button" className="danger" onClick={() => onDelete(secret.name)} aria-label={`Delete ${secret.name}`}>
                  Delete
                </button>
              )}
            </td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

/** UTC to the minute: the same for every operator, whatever their time zone. */
function formatTime(date: Date): string {
  return `${date.toISOString().slice(0, 16).replace("T", " ")} UTC`;
}
