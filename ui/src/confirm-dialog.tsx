import { useEffect, useRef, useState, type ReactNode } from "react";

interface ConfirmDialogProps {
  title: string;
  confirmLabel: string;
  /** A destructive action: its button is red, and Cancel has the focus. */
  danger?: boolean;
  /** Why the last attempt failed. */
  error: string | undefined;
  /** The action cannot be taken yet (what it would do is still being checked). */
  confirmDisabled?: boolean;
  onConfirm(): Promise<void>;
  onCancel(): void;
  children: ReactNode;
}

/** A modal confirmation on the native <dialog>: focus stays inside, Escape cancels. */
export function ConfirmDialog({ title, confirmLabel, danger = false, error, confirmDisabled = false, onConfirm, onCancel, children }: ConfirmDialogProps) {
  const dialog = useRef<HTMLDialogElement>(null);
  const cancel = useRef<HTMLButtonElement>(null);
  const [busy, setBusy] = useState(false);

  useEffect(() => {
    const element = dialog.current;
    if (element !== null && !element.open) {
      element.showModal();
      cancel.current?.focus();
    }
    return () => element?.close();
  }, []);

  return (
    <dialog
      ref={dialog}
      aria-labelledby="confirm-title"
      aria-describedby="confirm-body"
      onCancel={(event) => {
        event.preventDefault();
        if (!busy) {
          onCancel();
        }
      }}
    >
      <h2 id="confirm-title">{title}</h2>
      <div id="confirm-body">{children}</div>
      {error !== undefined && (
        <p className="field-error" role="alert">
          {error}
        </p>
      )}
      <div className="dialog-buttons">
        <button type="button" ref={cancel} onClick={onCancel} disabled={busy}>
          Cancel
        </button>
        <button
          type="button"
          className={danger ? "danger" : "primary"}
          disabled={busy || confirmDisabled}
          onClick={async () => {
            setBusy(true);
            try {
              await onConfirm();
            } finally {
              setBusy(false);
            }
          }}
        >
          {confirmLabel}
        </button>
      </div>
    </dialog>
  );
}
