import { useCallback, useEffect, useRef, useState } from "react";
import type { Mode, Secret, SecretType } from "../../src/gen/credbroker/v1/secret_pb.ts";
import type { SecretOrder } from "../../src/gen/credbroker/v1/secret_service_pb.ts";
import type { AdminClient } from "./admin-client.ts";

/** Secrets to a page. */
export const pageSize = 20;

/** The listing the page shows: a mode, a filter and an order. Page tokens belong to one listing. */
export interface ListQuery {
  mode: Mode;
  search: string;
  type: SecretType;
  order: SecretOrder;
}

/** One page of a listing, as loaded. */
export type ListState =
  | { kind: "loading" }
  | { kind: "failed"; message: string }
  | {
      kind: "loaded";
      secrets: Secret[];
      /** The page shown: the one asked for, or the last one when the listing has fewer pages. */
      page: number;
      /** How many secrets match, over every page. */
      totalSize: number;
      hasNext: boolean;
    };

/**
 * Loads page `page` of a listing. Page tokens are kept per listing (never
 * one listing's token for another: a token of Test sent with Live is
 * refused); a page whose token is not known yet (a reload, a shared link)
 * is reached by walking from the last page known. Answers to requests that
 * were overtaken (a search typed on) are dropped.
 */
export function useSecretList(
  client: AdminClient,
  query: ListQuery | undefined,
  page: number,
  describe: (error: unknown) => string,
): { state: ListState; reload(): void; forget(): void } {
  // the state of one listing and page: another's shows as loading, never as this one's
  const [loaded, setLoaded] = useState<{ of: string; state: ListState }>({ of: "", state: { kind: "loading" } });
  // listing key -> the token of each page, index 0 being page 1's ("")
  const tokens = useRef(new Map<string, string[]>());
  const latest = useRef(0);
  const [attempt, setAttempt] = useState(0);
  const key = query === undefined ? undefined : JSON.stringify([query.mode, query.search, query.type, query.order]);
  const of = `${key ?? ""}#${page}#${attempt}`;

  useEffect(() => {
    if (query === undefined || key === undefined) {
      return;
    }
    const request = ++latest.current;
    const known = tokens.current.get(key) ?? [""];
    tokens.current.set(key, known);
    const listPage = (pageToken: string) =>
      client.listSecrets({
        mode: query.mode,
        pageSize,
        pageToken,
        nameContains: query.search,
        types: query.type === 0 ? [] : [query.type],
        orderBy: query.order,
      });
    void (async () => {
      try {
        let at = Math.min(page, known.length);
        let answer = await listPage(known[at - 1] ?? "");
        while (at < page && answer.nextPageToken !== "") {
          known[at] = answer.nextPageToken;
          at += 1;
          answer = await listPage(answer.nextPageToken);
        }
        if (answer.nextPageToken !== "") {
          known[at] = answer.nextPageToken;
        }
        if (request === latest.current) {
          setLoaded({ of, state: { kind: "loaded", secrets: answer.secrets, page: at, totalSize: answer.totalSize, hasNext: answer.nextPageToken !== "" } });
        }
      } catch (error) {
        if (request === latest.current) {
          setLoaded({ of, state: { kind: "failed", message: describe(error) } });
        }
      }
    })();
  }, [client, key, page, attempt, of, describe]);

  const reload = useCallback(() => setAttempt((n) => n + 1), []);
  // after a change (create, delete, deploy), pages may start elsewhere
  const forget = useCallback(() => tokens.current.clear(), []);
  return { state: loaded.of === of ? loaded.state : { kind: "loading" }, reload, forget };
}
