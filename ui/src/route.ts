import { useCallback, useEffect, useState } from "react";
import { Mode, SecretType } from "../../src/gen/credbroker/v1/secret_pb.ts";
import { SecretOrder } from "../../src/gen/credbroker/v1/secret_service_pb.ts";
import { typeSpecs } from "./secret-types.ts";

/** The screens that have an address of their own. */
export type Screen = "list" | "create" | "edit" | "deployed";

/**
 * What the page shows, as its address says it: reload, Back and a shared
 * link land on the same view. It lives in the fragment, which the browser
 * never sends, so searches stay out of the broker's and proxies' logs; the
 * admin token is never part of it.
 */
export interface Route {
  mode: Mode;
  screen: Screen;
  /** The secret of the edit screen. */
  name: string;
  /** The list's name search. */
  search: string;
  /** The list's type filter; unspecified: every type. */
  type: SecretType;
  order: SecretOrder;
  /** The list's page, from 1. */
  page: number;
}

const screens: readonly Screen[] = ["list", "create", "edit", "deployed"];

/** The route of an address's fragment (`#mode=live&q=stripe&page=2`); anything unknown falls back to the default. */
export function parseRoute(hash: string): Route {
  const params = new URLSearchParams(hash.replace(/^#/, ""));
  const screen = screens.find((value) => value === params.get("screen")) ?? "list";
  const name = params.get("name") ?? "";
  const page = Number.parseInt(params.get("page") ?? "1", 10);
  return {
    mode: params.get("mode") === "live" ? Mode.LIVE : Mode.TEST,
    // an edit needs a name
    screen: screen === "edit" && name === "" ? "list" : screen,
    name,
    search: params.get("q") ?? "",
    type: typeSpecs.find((spec) => spec.credentialsCase === params.get("type"))?.type ?? SecretType.UNSPECIFIED,
    order: params.get("sort") === "updated" ? SecretOrder.UPDATE_TIME_DESC : SecretOrder.NAME,
    page: Number.isSafeInteger(page) && page > 0 ? page : 1,
  };
}

/** The fragment of a route; defaults are left out, so the first screen's address is plain `/ui/`. */
export function formatRoute(route: Route): string {
  const params = new URLSearchParams();
  if (route.mode === Mode.LIVE) params.set("mode", "live");
  if (route.screen !== "list") params.set("screen", route.screen);
  if (route.screen === "edit") params.set("name", route.name);
  if (route.search !== "") params.set("q", route.search);
  const type = typeSpecs.find((spec) => spec.type === route.type);
  if (type !== undefined) params.set("type", type.credentialsCase);
  if (route.order === SecretOrder.UPDATE_TIME_DESC) params.set("sort", "updated");
  if (route.page > 1) params.set("page", String(route.page));
  const text = params.toString();
  return text === "" ? "" : `#${text}`;
}

/** How a navigation enters the history: a new entry (Back returns), or in place of the current one (typing a search). */
export type HistoryEntry = "push" | "replace";

/** The route of the current address, and a way to go to another; Back and Forward update it. */
export function useRoute(): [Route, (route: Route, entry?: HistoryEntry) => void] {
  const [route, setRoute] = useState(() => parseRoute(window.location.hash));
  useEffect(() => {
    const onPopState = () => setRoute(parseRoute(window.location.hash));
    window.addEventListener("popstate", onPopState);
    return () => window.removeEventListener("popstate", onPopState);
  }, []);
  const navigate = useCallback((next: Route, entry: HistoryEntry = "push") => {
    const address = `${window.location.pathname}${window.location.search}${formatRoute(next)}`;
    if (entry === "push") {
      window.history.pushState(null, "", address);
    } else {
      window.history.replaceState(null, "", address);
    }
    setRoute(next);
  }, []);
  return [route, navigate];
}
