import { useState } from "react";
import { FieldError } from "./field-error.tsx";
import { labelInSentence } from "./field-labels.ts";
import { withWords, type FieldSpec } from "./secret-types.ts";

interface CredentialFieldProps {
  /** The element id; also prefixes the ids of the hint and the error. */
  id: string;
  field: FieldSpec;
  value: string | string[];
  error: string | undefined;
  /** An edit's sensitive field: empty keeps the stored value, which is never shown. */
  unchanged: boolean;
  /** A list's typed value not added yet. */
  draft: string;
  onChange(value: string | string[]): void;
  onDraftChange(draft: string): void;
}

/** One credential field with its label, hint and error; secret values are masked. */
export function CredentialField({ id, field, value, error, unchanged, draft, onChange, onDraftChange }: CredentialFieldProps) {
  const describedBy = [
    unchanged ? `${id}-unchanged` : "",
    field.hint === undefined ? "" : `${id}-hint`,
    error === undefined ? "" : `${id}-error`,
  ]
    .filter(Boolean)
    .join(" ");
  const common = {
    id,
    "aria-invalid": error !== undefined,
    "aria-required": !field.optional,
    ...(describedBy === "" ? {} : { "aria-describedby": describedBy }),
  };
  return (
    <div className="field">
      <label htmlFor={id}>
        {field.label}
        {field.optional && <span className="optional"> (optional)</span>}
      </label>
      {Array.isArray(value) ? (
        <ListInput {...common} label={field.label} values={value} draft={draft} onChange={onChange} onDraftChange={onDraftChange} />
      ) : (
        <SingleInput {...common} field={field} value={value} unchanged={unchanged} onChange={onChange} />
      )}
      {unchanged && (
        <p className="hint unchanged" id={`${id}-unchanged`}>
          {value === "" ? "Unchanged: the stored value stays. Type a new one to replace it." : "Replaced on save."}
        </p>
      )}
      {field.hint !== undefined && (
        <p className="hint" id={`${id}-hint`}>
          {field.hint}
        </p>
      )}
      <FieldError id={`${id}-error`} message={error} />
    </div>
  );
}

interface InputAttributes {
  id: string;
  "aria-invalid": boolean;
  "aria-required": boolean;
  "aria-describedby"?: string;
}

function SingleInput({
  field,
  value,
  unchanged,
  onChange,
  ...attributes
}: InputAttributes & { field: FieldSpec; value: string; unchanged: boolean; onChange(value: string): void }) {
  const [shown, setShown] = useState(false);
  const onInput = (event: { target: { value: string } }) => onChange(event.target.value);
  const plain = { ...attributes, value, autoComplete: "off", spellCheck: false, onChange: onInput };
  const placeholder = unchanged ? { placeholder: "Unchanged" } : {};
  // A controlled input mirrors its value into the DOM's value attribute, where
  // attribute selectors and DOM dumps see it; a secret field is uncontrolled
  // (it starts empty and reports each change), so the typed value stays in
  // the element's state only. A JSON document holds keys too.
  const uncontrolled = { ...attributes, ...placeholder, defaultValue: value, autoComplete: "off", spellCheck: false, onChange: onInput };
  switch (field.input) {
    case "text":
      return <input type="text" {...plain} />;
    case "password":
      // new-password keeps browsers from filling in the operator's own saved passwords
      return <input type="password" {...uncontrolled} autoComplete="new-password" />;
    case "textarea":
      return <textarea rows={8} {...uncontrolled} />;
    case "secret-text":
      return (
        <div className="secret-text">
          <textarea rows={8} className={shown ? undefined : "masked"} {...uncontrolled} />
          <button type="button" className="link-button" aria-pressed={shown} aria-controls={attributes.id} onClick={() => setShown(!shown)}>
            {shown ? `Hide ${labelInSentence(field.label)}` : `Show ${labelInSentence(field.label)}`}
          </button>
        </div>
      );
    case "choice":
      return (
        <select {...attributes} value={value} onChange={(event) => onChange(event.target.value)}>
          {field.options.map((option) => (
            <option key={option.value} value={option.value}>
              {option.label}
            </option>
          ))}
        </select>
      );
    case "list":
      throw new Error(`field ${field.name} holds a list`);
  }
}

/**
 * A list of short values: an input with an Add button, and each value with
 * its Remove button. The typed value stays a draft (the form saves it too)
 * until added with Enter or the button.
 */
function ListInput({
  label,
  values,
  draft,
  onChange,
  onDraftChange,
  ...attributes
}: InputAttributes & { label: string; values: string[]; draft: string; onChange(values: string[]): void; onDraftChange(draft: string): void }) {
  const noun = labelInSentence(label).replace(/s$/, "");
  const add = () => {
    const next = withWords(values, draft);
    if (next.length > values.length) {
      onChange(next);
    }
    onDraftChange("");
  };
  return (
    <div className="list-input">
      {values.length > 0 && (
        <ul aria-label={`${label} added`}>
          {values.map((item) => (
            <li key={item}>
              <span>{item}</span>
              <button type="button" className="link-button" aria-label={`Remove ${noun} ${item}`} onClick={() => onChange(values.filter((v) => v !== item))}>
                Remove
              </button>
            </li>
          ))}
        </ul>
      )}
      <div className="list-add">
        <input
          type="text"
          {...attributes}
          autoComplete="off"
          spellCheck={false}
          value={draft}
          onChange={(event) => onDraftChange(event.target.value)}
          onKeyDown={(event) => {
            // Enter adds the value instead of submitting the whole form
            if (event.key === "Enter") {
              event.preventDefault();
              add();
            }
          }}
        />
        <button type="button" onClick={add}>
          Add {noun}
        </button>
      </div>
    </div>
  );
}
