import { useState } from "react";
import { FieldError } from "./field-error.tsx";
import type { FieldSpec } from "./secret-types.ts";

interface CredentialFieldProps {
  /** The element id; also prefixes the ids of the hint and the error. */
  id: string;
  field: FieldSpec;
  value: string | string[];
  error: string | undefined;
  onChange(value: string | string[]): void;
}

/** One credential field with its label, hint and error; secret values are masked. */
export function CredentialField({ id, field, value, error, onChange }: CredentialFieldProps) {
  const describedBy = [field.hint === undefined ? "" : `${id}-hint`, error === undefined ? "" : `${id}-error`].filter(Boolean).join(" ");
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
        <ListInput {...common} label={field.label} values={value} onChange={onChange} />
      ) : (
        <SingleInput {...common} field={field} value={value} onChange={onChange} />
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

function SingleInput({ field, value, onChange, ...attributes }: InputAttributes & { field: FieldSpec; value: string; onChange(value: string): void }) {
  const [shown, setShown] = useState(false);
  const onInput = (event: { target: { value: string } }) => onChange(event.target.value);
  const plain = { ...attributes, value, autoComplete: "off", spellCheck: false, onChange: onInput };
  // A controlled input mirrors its value into the DOM's value attribute, where
  // attribute selectors and DOM dumps see it; a secret field is uncontrolled
  // (it starts empty and reports each change), so the typed value stays in
  // the element's state only. A JSON document holds keys too.
  const uncontrolled = { ...attributes, defaultValue: value, autoComplete: "off", spellCheck: false, onChange: onInput };
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
            {shown ? `Hide ${field.label.toLowerCase()}` : `Show ${field.label.toLowerCase()}`}
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

/** A list of short values: an input with an Add button, and each value with its Remove button. */
function ListInput({ label, values, onChange, ...attributes }: InputAttributes & { label: string; values: string[]; onChange(values: string[]): void }) {
  const [draft, setDraft] = useState("");
  const noun = label.toLowerCase().replace(/s$/, "");
  const add = () => {
    const words = draft.split(/\s+/).filter((word) => word !== "" && !values.includes(word));
    if (words.length > 0) {
      onChange([...values, ...words]);
    }
    setDraft("");
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
          onChange={(event) => setDraft(event.target.value)}
          // a value typed but not added yet is not lost when the operator moves on to Save
          onBlur={add}
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
