import { Mode } from "../../src/gen/credbroker/v1/secret_pb.ts";

/** The mode's name as the page shows it. */
export function modeLabel(mode: Mode): string {
  return mode === Mode.LIVE ? "Live" : "Test";
}

interface ModeSwitchProps {
  mode: Mode;
  onChange(mode: Mode): void;
}

/** Test / Live as a radio group: arrow keys move between the two, as for any radio group. */
export function ModeSwitch({ mode, onChange }: ModeSwitchProps) {
  return (
    <fieldset className="mode-switch">
      <legend>Mode</legend>
      {[Mode.TEST, Mode.LIVE].map((value) => (
        <label key={value} className={value === mode ? "checked" : undefined}>
          <input type="radio" name="mode" value={modeLabel(value)} checked={value === mode} onChange={() => onChange(value)} />
          {modeLabel(value)}
        </label>
      ))}
    </fieldset>
  );
}
