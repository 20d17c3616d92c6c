import type { IncomingHttpHeaders, OutgoingHttpHeaders } from "node:http";
import type { Logger } from "pino";
import { loadUiFiles, type UiFile, type UiFiles } from "./ui-files.ts";

/** What the handler reads of a request: the part that node:http's and node:http2's compatibility API share. */
export interface UiRequest {
  readonly method?: string | undefined;
  readonly url?: string | undefined;
  readonly headers: IncomingHttpHeaders;
}

/** What the handler uses of a response, shared by node:http and node:http2 alike. */
export interface UiResponse {
  writeHead(status: number, headers: OutgoingHttpHeaders): unknown;
  end(body?: string | Uint8Array): unknown;
}

/** Answers a request under `/ui`, over HTTP/1.1 or HTTP/2. */
export type UiHandler = (req: UiRequest, res: UiResponse) => void;

/** Options of createUiHandler. */
export interface UiHandlerOptions {
  /** The built admin page (`npm run build:ui` writes `dist/ui/`); read whole, once, at start-up. */
  directory: string;
  /** Where the one warning goes when the page is not built. */
  logger: Logger;
}

/**
 * On every answer under /ui, errors and redirects included: the page runs
 * only its own scripts and styles, talks only to this origin (the Connect
 * API), and cannot be framed, sniffed or opened by another origin.
 */
export const uiSecurityHeaders: Readonly<Record<string, string>> = {
  "content-security-policy":
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; font-src 'self'; " +
    "connect-src 'self'; manifest-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
  "x-content-type-options": "nosniff",
  "referrer-policy": "no-referrer",
  "x-frame-options": "DENY",
  "cross-origin-opener-policy": "same-origin",
  "cross-origin-resource-policy": "same-origin",
  "permissions-policy": "camera=(), microphone=(), geolocation=(), payment=()",
};

/** The answer to every /ui request while the page is not built. */
export const uiNotBuiltMessage = "the admin page is not built: run npm run build:ui";

/** True for the paths the UI handler answers: `/ui` and everything under `/ui/`, query aside. */
export function isUiPath(url: string | undefined): boolean {
  const path = pathOf(url ?? "");
  return path === "/ui" || path.startsWith("/ui/");
}

/**
 * Reads the built admin page into memory and returns the handler that
 * serves it under /ui/. A missing or incomplete build is logged once and
 * answered with 503, so the broker itself still starts.
 */
export async function createUiHandler(options: UiHandlerOptions): Promise<UiHandler> {
  const build = await loadUiFiles(options.directory);
  if (!build.built) {
    options.logger.warn({ reason: build.reason }, `${uiNotBuiltMessage}; /ui answers 503`);
    return (req, res) => answer(req, res, 503, textHeaders("no-store"), `${uiNotBuiltMessage}\n`);
  }
  const files: UiFiles = build.files;
  return (req, res) => {
    if (req.method !== "GET" && req.method !== "HEAD") {
      answer(req, res, 405, { ...textHeaders("no-store"), allow: "GET, HEAD" }, "method not allowed\n");
      return;
    }
    const path = pathOf(req.url ?? "");
    if (path === "/ui") {
      answer(req, res, 308, { location: "/ui/", "cache-control": "no-store" }, "");
      return;
    }
    const file = files.get(fileKey(path));
    if (file === undefined) {
      answer(req, res, 404, textHeaders("no-store"), "not found\n");
      return;
    }
    const headers = { "content-type": file.contentType, etag: file.etag, "cache-control": cacheControl(path, file) };
    if (matchesEtag(req.headers["if-none-match"], file.etag)) {
      answer(req, res, 304, headers, undefined);
      return;
    }
    answer(req, res, 200, headers, file.body);
  };
}

/** The map key of a request path: what follows `/ui/`, percent-decoded; `/ui/` is index.html. */
function fileKey(path: string): string {
  const rest = path.slice("/ui/".length);
  if (rest === "") {
    return "index.html";
  }
  try {
    // `%2e%2e` decodes to `..`, which is no key: the map holds only the built files
    return decodeURIComponent(rest);
  } catch {
    return "";
  }
}

/** HTML names the current hashed assets, so it is never cached; hashed assets never change. */
function cacheControl(path: string, file: UiFile): string {
  if (file.contentType.startsWith("text/html")) {
    return "no-store";
  }
  return path.startsWith("/ui/assets/") ? "public, max-age=31536000, immutable" : "no-cache";
}

/** If-None-Match, with the weak comparison RFC 9110 prescribes for it. */
function matchesEtag(header: string | undefined, etag: string): boolean {
  if (header === undefined) {
    return false;
  }
  return header.split(",").some((candidate) => {
    const tag = candidate.trim();
    return tag === "*" || tag.replace(/^W\//, "") === etag;
  });
}

function pathOf(url: string): string {
  const query = url.indexOf("?");
  return query === -1 ? url : url.slice(0, query);
}

function textHeaders(cache: string): Record<string, string> {
  return { "content-type": "text/plain; charset=utf-8", "cache-control": cache };
}

/** Writes an answer with the security headers; a HEAD answer has the GET answer's headers and no body. */
function answer(
  req: UiRequest,
  res: UiResponse,
  status: number,
  headers: Record<string, string>,
  body: string | Buffer | undefined,
): void {
  const all: Record<string, string> = { ...uiSecurityHeaders, ...headers };
  if (body !== undefined) {
    all["content-length"] = String(Buffer.byteLength(body));
  }
  res.writeHead(status, all);
  if (body === undefined || req.method === "HEAD") {
    res.end();
  } else {
    res.end(body);
  }
}
