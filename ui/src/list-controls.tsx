import { useEffect, useState } from "react";
import { SecretType } from "../../src/gen/credbroker/v1/secret_pb.ts";
import { SecretOrder } from "../../src/gen/credbroker/v1/secret_service_pb.ts";
import { secretTypeName, secretTypeOf, typeSpecs } from "./secret-types.ts";

/** What the controls change of the listing. */
export interface ListFilter {
  search: string;
  type: SecretType;
  order: SecretOrder;
}

interface ListControlsProps extends ListFilter {
  /** A new filter; `typing` while the search is being typed (one history entry for the whole word). */
  onChange(filter: ListFilter, typing: boolean): void;
}

// long enough that a word typed at speed is one request, short enough to feel immediate
const searchDelayMs = 250;

/** The name search, the type filter and the order of the list. */
export function ListControls({ search, type, order, onChange }: ListControlsProps) {
  const [text, setText] = useState(search);
  // Back, Forward and a cleared filter set the search from outside
  useEffect(() => setText(search), [search]);
  useEffect(() => {
    if (text === search) {
      return;
    }
    const timer = window.setTimeout(() => onChange({ search: text, type, order }, true), searchDelayMs);
    return () => window.clearTimeout(timer);
  }, [text, search, type, order, onChange]);

  return (
    <div className="list-controls" role="search" aria-label="Find secrets">
      <div className="field">
        <label htmlFor="secret-search">Search names</label>
        <input
          id="secret-search"
          type="search"
          value={text}
          autoComplete="off"
          spellCheck={false}
          maxLength={63}
          onChange={(event) => setText(event.target.value)}
        />
      </div>
      <div className="field">
        <label htmlFor="type-filter">Type</label>
        <select id="type-filter" value={secretTypeName(type)} onChange={(event) => onChange({ search: text, type: secretTypeOf(event.target.value), order }, false)}>
          <option value={secretTypeName(SecretType.UNSPECIFIED)}>All types</option>
          {typeSpecs.map((spec) => (
            <option key={spec.type} value={secretTypeName(spec.type)}>
              {spec.label}
            </option>
          ))}
        </select>
      </div>
      <div className="field">
        <label htmlFor="secret-order">Sort by</label>
        <select
          id="secret-order"
          value={order === SecretOrder.UPDATE_TIME_DESC ? "updated" : "name"}
          onChange={(event) =>
            onChange({ search: text, type, order: event.target.value === "updated" ? SecretOrder.UPDATE_TIME_DESC : SecretOrder.NAME }, false)
          }
        >
          <option value="name">Name</option>
          <option value="updated">Recently updated</option>
        </select>
      </div>
    </div>
  );
}
