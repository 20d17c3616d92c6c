interface DeploySelectionProps {
  /** The names picked for deploy, on any page and under any filter. */
  names: readonly string[];
  onRemove(name: string): void;
  onClear(): void;
  onDeploy(): void;
}

/** The Test secrets picked for deploy, listed whatever page is shown, with the Deploy button. */
export function DeploySelection({ names, onRemove, onClear, onDeploy }: DeploySelectionProps) {
  return (
    <section className="deploy-selection" aria-labelledby="deploy-selection-title">
      <h2 id="deploy-selection-title">Selected for deploy ({names.length})</h2>
      {names.length === 0 ? (
        <p className="hint">Tick Test secrets on any page to deploy them to Live together.</p>
      ) : (
        <ul className="chips">
          {names.map((name) => (
            <li key={name}>
              <span>{name}</span>
              <button type="button" className="link-button" aria-label={`Remove ${name} from the deploy`} onClick={() => onRemove(name)}>
                Remove
              </button>
            </li>
          ))}
        </ul>
      )}
      <div className="toolbar">
        <button type="button" className="primary" disabled={names.length === 0} onClick={onDeploy}>
          Deploy selected to Live{names.length > 0 ? ` (${names.length})` : ""}
        </button>
        {names.length > 0 && (
          <button type="button" onClick={onClear}>
            Clear selection
          </button>
        )}
      </div>
    </section>
  );
}
