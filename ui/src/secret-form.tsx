import { Code } from "@connectrpc/connect";
import { useEffect, useRef, useState, type FormEvent, type RefObject } from "react";
import { Mode, SecretType, type Secret } from "../../src/gen/credbroker/v1/secret_pb.ts";
import type { AdminClient } from "./admin-client.ts";
import { CredentialField } from "./credential-field.tsx";
import { describeError } from "./errors.ts";
import { FieldError } from "./field-error.tsx";
import { formDraft, type FormDraft } from "./form-draft.ts";
import { modeLabel } from "./mode-switch.tsx";
import {
  emptyValues,
  readableValues,
  secretTypeName,
  secretTypeOf,
  toCredentials,
  typeSpecOf,
  typeSpecs,
  withDrafts,
  type FieldValues,
  type TypeSpec,
} from "./secret-types.ts";
import { TestButton } from "./test-button.tsx";
import { updateMaskPaths } from "./update-mask.ts";
import { credentialProblems, descriptionProblem, nameProblem, type Problems } from "./validate.ts";

interface SecretFormProps {
  headingRef: RefObject<HTMLHeadingElement | null>;
  client: AdminClient;
  mode: Mode;
  /** The secret to edit, as GetSecret answers it (with its readable fields); absent to create one. */
  secret?: Secret;
  /** Typed work kept from before a sign-in, to start from. */
  draft?: FormDraft;
  /** Saved: back to the list with this message. */
  onDone(message: string): void;
  onCancel(): void;
  /** Whether the form holds typed work that leaving would lose. */
  onDirtyChange(dirty: boolean): void;
  /** The token was refused: the typed work, without its sensitive values, for after the sign-in. */
  onTokenRejected(draft: FormDraft): void;
}

/**
 * Create a secret, or edit one: the readable fields start as stored, the
 * sensitive ones empty ("unchanged"), and only what changed is sent (an
 * update mask); the type is fixed. Values typed here live only in this
 * component's state and are gone when it closes; the API never sends them back.
 */
export function SecretForm({ headingRef, client, mode, secret, draft, onDone, onCancel, onDirtyChange, onTokenRejected }: SecretFormProps) {
  const editing = secret !== undefined;
  const initialType = secret?.type ?? SecretType.UNSPECIFIED;
  const initialSpec = typeSpecOf(initialType);
  const [initialValues] = useState<FieldValues>(() =>
    initialSpec === undefined ? {} : editing ? readableValues(initialSpec, secret.readableCredentials) : emptyValues(initialSpec),
  );
  const [name, setName] = useState(draft?.name ?? secret?.name ?? "");
  const [type, setType] = useState<SecretType>(draft?.type ?? initialType);
  const [description, setDescription] = useState(draft?.description ?? secret?.description ?? "");
  const spec = typeSpecOf(type);
  const [values, setValues] = useState<FieldValues>(() => {
    const draftSpec = typeSpecOf(draft?.type ?? initialType);
    if (draft === undefined || draftSpec === undefined) {
      return initialValues;
    }
    return { ...(editing ? initialValues : emptyValues(draftSpec)), ...draft.values };
  });
  // each list field's typed value that is not added yet
  const [listDrafts, setListDrafts] = useState<Record<string, string>>({});
  const current = withDrafts(values, listDrafts);
  // an edit's sensitive fields left empty keep their stored values
  const kept = new Set(editing && spec !== undefined ? spec.fields.filter((f) => f.sensitive && current[f.name] === "").map((f) => f.path) : []);
  const [problems, setProblems] = useState<Problems>({});
  const [formError, setFormError] = useState<string>();
  const [busy, setBusy] = useState(false);
  const [attempt, setAttempt] = useState(0);
  const form = useRef<HTMLFormElement>(null);

  const dirty =
    name !== (secret?.name ?? "") ||
    type !== initialType ||
    description !== (secret?.description ?? "") ||
    (spec !== undefined && updateMaskPaths(spec, type === initialType ? initialValues : emptyValues(spec), current, false).length > 0);
  useEffect(() => onDirtyChange(dirty), [dirty, onDirtyChange]);

  // after a failed save, the first field in error gets the focus (and the summary is announced)
  useEffect(() => {
    if (attempt > 0) {
      form.current?.querySelector<HTMLElement>("[aria-invalid='true']")?.focus();
    }
  }, [attempt]);

  const chooseType = (next: SecretType) => {
    setType(next);
    const nextSpec = typeSpecOf(next);
    setValues(nextSpec === undefined ? {} : emptyValues(nextSpec));
    setListDrafts({});
    setProblems({});
  };

  const check = (): Problems => {
    const found: Problems = {};
    const nameFault = editing ? undefined : nameProblem(name);
    if (nameFault !== undefined) {
      found.name = nameFault;
    }
    if (spec === undefined) {
      found.type = "Choose a type.";
    } else {
      Object.assign(found, credentialProblems(spec, current, kept));
    }
    const descriptionFault = descriptionProblem(description);
    if (descriptionFault !== undefined) {
      found.description = descriptionFault;
    }
    return found;
  };

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    setFormError(undefined);
    const found = check();
    setProblems(found);
    if (Object.keys(found).length > 0 || spec === undefined) {
      setAttempt((n) => n + 1);
      return;
    }
    // what was typed but not added is saved, and shown as added
    setValues(current);
    setListDrafts({});
    setBusy(true);
    try {
      const credentials = toCredentials(spec, current);
      if (editing) {
        const paths = updateMaskPaths(spec, initialValues, current, description !== secret.description);
        if (paths.length === 0) {
          setFormError("Nothing changed: there is nothing to save.");
          return;
        }
        await client.updateSecret({ mode, name, description, credentials, updateMask: { paths }, expectedVersion: secret.version });
        onDone(`Saved ${name} in ${modeLabel(mode)}.`);
      } else {
        await client.createSecret({ mode, name, description, credentials });
        onDone(`Created ${name} in ${modeLabel(mode)}.`);
      }
    } catch (error) {
      const problem = describeError(error);
      if (problem.code === Code.Unauthenticated) {
        onTokenRejected(formDraft({ mode, editing: secret?.name, name, type, description, values: current }));
        return;
      }
      if (problem.field !== undefined && hasFieldFor(problem.field, spec)) {
        setProblems({ [problem.field]: problem.message });
      } else {
        setProblems({});
        setFormError(problem.message);
      }
      setAttempt((n) => n + 1);
    } finally {
      setBusy(false);
    }
  };

  const problemCount = Object.keys(problems).length;
  return (
    <section aria-labelledby="secret-form-title">
      <h1 id="secret-form-title" ref={headingRef} tabIndex={-1}>
        {editing ? `Edit ${secret.name}` : `Create a secret in ${modeLabel(mode)}`}
      </h1>
      <div role="alert" className={problemCount > 0 || formError !== undefined ? "error-panel" : undefined}>
        {formError !== undefined && <p>{formError}</p>}
        {problemCount > 0 && (
          <p>
            {problemCount === 1 ? "One field needs" : `${problemCount} fields need`} attention: {Object.values(problems).join(" ")}
          </p>
        )}
      </div>
      <form ref={form} onSubmit={submit} noValidate className="secret-form">
        <div className="field">
          <label htmlFor="secret-name">Name</label>
          <input
            id="secret-name"
            type="text"
            value={name}
            readOnly={editing}
            autoComplete="off"
            spellCheck={false}
            onChange={(event) => setName(event.target.value)}
            aria-required
            aria-invalid={problems.name !== undefined}
            aria-describedby={problems.name === undefined ? "secret-name-hint" : "secret-name-hint secret-name-error"}
          />
          <p className="hint" id="secret-name-hint">
            {editing ? "A secret keeps its name." : "Lowercase letters, digits, '.', '_' and '-'; steps refer to it by this name."}
          </p>
          <FieldError id="secret-name-error" message={problems.name} />
        </div>
        <div className="field">
          <label htmlFor="secret-type">Type</label>
          <select
            id="secret-type"
            value={secretTypeName(type)}
            disabled={editing}
            onChange={(event) => chooseType(secretTypeOf(event.target.value))}
            aria-required
            aria-invalid={problems.type !== undefined}
            {...(problems.type === undefined ? {} : { "aria-describedby": "secret-type-error" })}
          >
            <option value={secretTypeName(SecretType.UNSPECIFIED)} disabled>
              Choose a type
            </option>
            {typeSpecs.map((option) => (
              <option key={option.type} value={secretTypeName(option.type)}>
                {option.label}
              </option>
            ))}
          </select>
          <FieldError id="secret-type-error" message={problems.type} />
        </div>
        <div className="field">
          <label htmlFor="secret-description">
            Description<span className="optional"> (optional)</span>
          </label>
          <input
            id="secret-description"
            type="text"
            value={description}
            onChange={(event) => setDescription(event.target.value)}
            aria-invalid={problems.description !== undefined}
            {...(problems.description === undefined ? {} : { "aria-describedby": "secret-description-error" })}
          />
          <FieldError id="secret-description-error" message={problems.description} />
        </div>
        {spec !== undefined && (
          <fieldset className="credentials">
            <legend>{spec.label} values</legend>
            <FieldError id="credentials-error" message={problems.credentials} />
            {spec.fields.map((field) => (
              <CredentialField
                key={field.path}
                id={`field-${spec.credentialsCase}-${field.name}`}
                field={field}
                value={values[field.name] ?? ""}
                error={problems[field.path]}
                unchanged={editing && field.sensitive}
                draft={listDrafts[field.name] ?? ""}
                onChange={(value) => setValues({ ...values, [field.name]: value })}
                onDraftChange={(text) => setListDrafts({ ...listDrafts, [field.name]: text })}
              />
            ))}
          </fieldset>
        )}
        {spec !== undefined && (
          <TestButton client={client} mode={mode} spec={spec} values={current} stored={editing ? { name: secret.name, values: initialValues } : undefined} />
        )}
        <div className="toolbar">
          <button type="submit" className="primary" disabled={busy}>
            {busy ? "Saving…" : editing ? "Save" : "Create secret"}
          </button>
          <button type="button" onClick={onCancel} disabled={busy}>
            Cancel
          </button>
        </div>
      </form>
    </section>
  );
}

/** Whether the form has a field of its own for a server field path, to show the server's error there. */
function hasFieldFor(path: string, spec: TypeSpec | undefined): boolean {
  if (path === "name" || path === "description" || path === "credentials") {
    return true;
  }
  return spec !== undefined && spec.fields.some((field) => field.path === path);
}
