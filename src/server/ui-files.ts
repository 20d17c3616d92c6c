import { createHash } from "node:crypto";
import { readdir, readFile } from "node:fs/promises";
import { extname, join, relative, sep } from "node:path";

/** One file of the built admin page, held in memory. */
export interface UiFile {
  readonly body: Buffer;
  readonly contentType: string;
  /** A strong validator: a hash of the body, quoted. */
  readonly etag: string;
}

/** The built admin page: every file by its path in the directory, `/`-separated (`index.html`, `assets/app-1a2b.js`). */
export type UiFiles = ReadonlyMap<string, UiFile>;

/** A directory read whole, or why it cannot be served (missing, unreadable, or without index.html). */
export type UiBuild = { readonly built: true; readonly files: UiFiles } | { readonly built: false; readonly reason: string };

const contentTypes: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".mjs": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".svg": "image/svg+xml",
  ".png": "image/png",
  ".ico": "image/x-icon",
  ".json": "application/json",
  ".webmanifest": "application/manifest+json",
  ".woff2": "font/woff2",
  ".map": "application/json",
  ".txt": "text/plain; charset=utf-8",
};

/** The content type of a file name; what it does not know is served as bytes, which nosniff keeps from running. */
export function uiContentType(name: string): string {
  return contentTypes[extname(name).toLowerCase()] ?? "application/octet-stream";
}

/**
 * Reads the whole built directory into memory once, keyed by path, so
 * that a request is a map lookup: nothing outside the directory (or added to
 * it later) can ever be answered. Symbolic links are not followed.
 */
export async function loadUiFiles(directory: string): Promise<UiBuild> {
  let entries;
  try {
    entries = await readdir(directory, { recursive: true, withFileTypes: true });
  } catch (cause) {
    return { built: false, reason: `cannot read ${directory} (${(cause as NodeJS.ErrnoException).code ?? "error"})` };
  }
  const files = new Map<string, UiFile>();
  for (const entry of entries) {
    if (!entry.isFile()) {
      continue;
    }
    const path = join(entry.parentPath, entry.name);
    let body: Buffer;
    try {
      body = await readFile(path);
    } catch (cause) {
      return { built: false, reason: `cannot read ${path} (${(cause as NodeJS.ErrnoException).code ?? "error"})` };
    }
    const etag = `"${createHash("sha256").update(body).digest("base64url").slice(0, 27)}"`;
    files.set(relative(directory, path).split(sep).join("/"), { body, contentType: uiContentType(entry.name), etag });
  }
  if (!files.has("index.html")) {
    return { built: false, reason: `${directory} has no index.html` };
  }
  return { built: true, files };
}
