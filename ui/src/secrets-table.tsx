import { timestampDate } from "@bufbuild/protobuf/wkt";
import { useEffect, useRef } from "react";
import { DeployState, Mode, type Secret } from "../../src/gen/credbroker/v1/secret_pb.ts";
import { typeSpecOf } from "./secret-types.ts";
import { formatTime } from "./time-format.ts";

interface SecretsTableProps {
  mode: Mode;
  secrets: Secret[];
  /** Names picked for deploy (Test only), on any page. */
  selected: ReadonlySet<string>;
  onSelect(names: readonly string[], selected: boolean): void;
  onEdit(secret: Secret): void;
  onDelete(name: string): void;
}

/** How a test secret stands against Live, in words. */
const deployStateLabels: Readonly<Record<DeployState, string>> = {
  [DeployState.UNSPECIFIED]: "",
  [DeployState.NOT_IN_LIVE]: "Not in Live",
  [DeployState.IN_SYNC]: "In sync",
  [DeployState.NEWER_IN_TEST]: "Newer in Test",
  [DeployState.CHANGED_IN_LIVE]: "Changed in Live",
};

/**
 * One page of secrets: metadata only, since the API never returns credential
 * values. A table at desk width; at phone width each row is a card (the
 * cells' data-label names what the column header said).
 */
export function SecretsTable({ mode, secrets, selected, onSelect, onEdit, onDelete }: SecretsTableProps) {
  const test = mode === Mode.TEST;
  const names = secrets.map((secret) => secret.name);
  const selectedHere = names.filter((name) => selected.has(name)).length;
  const selectAll = useRef<HTMLInputElement>(null);
  // "some of this page" is neither ticked nor not: the box says so
  useEffect(() => {
    if (selectAll.current !== null) {
      selectAll.current.indeterminate = selectedHere > 0 && selectedHere < names.length;
    }
  }, [selectedHere, names.length]);

  return (
    <table className="secrets list">
      <caption className="visually-hidden">Secrets{test ? "; pick rows to deploy them to Live" : ""}</caption>
      <thead>
        <tr>
          {test && (
            <th scope="col" className="select">
              <input
                ref={selectAll}
                type="checkbox"
                aria-label="Select every secret on this page for deploy"
                checked={names.length > 0 && selectedHere === names.length}
                onChange={(event) => onSelect(names, event.target.checked)}
              />
            </th>
          )}
          <th scope="col">Name</th>
          <th scope="col">Type</th>
          <th scope="col">Description</th>
          {test && <th scope="col">In Live</th>}
          <th scope="col">Version</th>
          <th scope="col">Updated</th>
          <th scope="col">Last used</th>
          <th scope="col">Actions</th>
        </tr>
      </thead>
      <tbody>
        {secrets.map((secret) => (
          <tr key={secret.name}>
            {test && (
              <td className="select">
                <input
                  type="checkbox"
                  aria-label={`Select ${secret.name} for deploy`}
                  checked={selected.has(secret.name)}
                  onChange={(event) => onSelect([secret.name], event.target.checked)}
                />
              </td>
            )}
            <th scope="row" className="name">
              {secret.name}
            </th>
            <td data-label="Type">{typeSpecOf(secret.type)?.label ?? "Unknown type"}</td>
            <td data-label="Description" className="description">
              {secret.description}
            </td>
            {test && (
              <td data-label="In Live" className={`deploy-state state-${secret.deployState}`}>
                {deployStateLabels[secret.deployState]}
              </td>
            )}
            <td data-label="Version">{secret.version.toString()}</td>
            <td data-label="Updated" className="time">
              {secret.updateTime === undefined ? "" : formatTime(timestampDate(secret.updateTime))}
            </td>
            <td data-label="Last used" className="time">
              {secret.lastUseTime === undefined ? "Never" : formatTime(timestampDate(secret.lastUseTime))}
            </td>
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
