interface FieldErrorProps {
  /** The id that the field's aria-describedby names. */
  id: string;
  message: string | undefined;
}

/** A field's error under it, or nothing; the form's alert summary is what screen readers announce. */
export function FieldError({ id, message }: FieldErrorProps) {
  if (message === undefined) {
    return null;
  }
  return (
    <p className="field-error" id={id}>
      {message}
    </p>
  );
}
