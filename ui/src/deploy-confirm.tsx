import { useEffect, useState } from "react";
import type { AdminClient } from "./admin-client.ts";
import { ConfirmDialog } from "./confirm-dialog.tsx";

interface DeployConfirmProps {
  client: AdminClient;
  names: readonly string[];
  /** Why the last deploy attempt failed. */
  error: string | undefined;
  /** Turns a failed call into its message (and signs out on a refused token). */
  describe(error: unknown): string;
  onConfirm(): Promise<void>;
  onCancel(): void;
}

type Plan = { kind: "loading" } | { kind: "failed"; message: string } | { kind: "ready"; created: string[]; replaced: string[] };

/**
 * The deploy confirmation: a dry run (validate_only) first says which Live
 * secrets the deploy replaces and which it creates, before anything is written.
 */
export function DeployConfirm({ client, names, error, describe, onConfirm, onCancel }: DeployConfirmProps) {
  const [plan, setPlan] = useState<Plan>({ kind: "loading" });
  useEffect(() => {
    let current = true;
    client.deploySecrets({ names: [...names], validateOnly: true }).then(
      (answer) => current && setPlan({ kind: "ready", created: answer.createdNames, replaced: answer.replacedNames }),
      (failure: unknown) => current && setPlan({ kind: "failed", message: describe(failure) }),
    );
    return () => {
      current = false;
    };
  }, [client, names, describe]);

  const count = `${names.length} ${names.length === 1 ? "secret" : "secrets"}`;
  return (
    <ConfirmDialog
      title={`Deploy ${count} to Live?`}
      confirmLabel="Deploy to Live"
      error={error ?? (plan.kind === "failed" ? `The deploy cannot be checked: ${plan.message}` : undefined)}
      confirmDisabled={plan.kind !== "ready"}
      onConfirm={onConfirm}
      onCancel={onCancel}
    >
      <p>These Test secrets are copied to Live, all or none. Live steps use the new values at once.</p>
      {plan.kind === "loading" && <p>Checking what the deploy changes in Live…</p>}
      {plan.kind === "ready" && plan.replaced.length > 0 && (
        <>
          <h3>Replaced in Live ({plan.replaced.length})</h3>
          <ul className="name-list replaced">
            {plan.replaced.map((name) => (
              <li key={name}>{name}</li>
            ))}
          </ul>
        </>
      )}
      {plan.kind === "ready" && plan.created.length > 0 && (
        <>
          <h3>Created in Live ({plan.created.length})</h3>
          <ul className="name-list created">
            {plan.created.map((name) => (
              <li key={name}>{name}</li>
            ))}
          </ul>
        </>
      )}
    </ConfirmDialog>
  );
}
