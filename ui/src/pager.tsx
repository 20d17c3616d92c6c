import { pageSize } from "./use-secret-list.ts";

interface PagerProps {
  /** Tells the top pager from the bottom one to assistive technology. */
  label: string;
  page: number;
  /** How many secrets match; undefined while unknown (loading, failed). */
  totalSize: number | undefined;
  /** Whether a next page can be loaded: never while the listing failed to load. */
  hasNext: boolean;
  onPage(page: number): void;
}

/** Previous / Next, the page number and the range shown, e.g. "21-40 of 250". */
export function Pager({ label, page, totalSize, hasNext, onPage }: PagerProps) {
  const pages = totalSize === undefined ? undefined : Math.max(1, Math.ceil(totalSize / pageSize));
  return (
    <nav className="pager" aria-label={label}>
      <button type="button" disabled={page <= 1} onClick={() => onPage(page - 1)}>
        Previous page
      </button>
      <span>
        Page {page}
        {pages === undefined ? "" : ` of ${pages}`}
      </span>
      <button type="button" disabled={!hasNext} onClick={() => onPage(page + 1)}>
        Next page
      </button>
    </nav>
  );
}
