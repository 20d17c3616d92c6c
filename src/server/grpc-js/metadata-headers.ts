import * as grpc from "@grpc/grpc-js";

/**
 * fetch Headers over grpc-js Metadata, so that interceptors and handlers
 * read a gRPC call's metadata (and write its response metadata) with no
 * Headers object built per call. As the gRPC listener has always shown
 * metadata: the first value of each key, trimmed as fetch trims it; binary
 * `-bin` entries left out. What is rarely asked for (iteration) goes
 * through a Headers copy made on demand.
 */
export class MetadataHeaders implements Headers {
  readonly metadata: grpc.Metadata;

  constructor(metadata: grpc.Metadata = new grpc.Metadata()) {
    this.metadata = metadata;
  }

  get(name: string): string | null {
    const value = this.metadata.get(name)[0];
    return typeof value === "string" ? value.trim() : null;
  }

  has(name: string): boolean {
    return typeof this.metadata.get(name)[0] === "string";
  }

  set(name: string, value: string): void {
    this.metadata.set(name, value);
  }

  append(name: string, value: string): void {
    this.metadata.add(name, value);
  }

  delete(name: string): void {
    this.metadata.remove(name);
  }

  getSetCookie(): string[] {
    return [];
  }

  forEach(callback: (value: string, key: string, parent: Headers) => void, thisArg?: unknown): void {
    this.copy().forEach((value, key) => callback.call(thisArg, value, key, this));
  }

  entries(): ReturnType<Headers["entries"]> {
    return this.copy().entries();
  }

  keys(): ReturnType<Headers["keys"]> {
    return this.copy().keys();
  }

  values(): ReturnType<Headers["values"]> {
    return this.copy().values();
  }

  [Symbol.iterator](): ReturnType<Headers["entries"]> {
    return this.copy().entries();
  }

  /** The string entries as fetch Headers; a value that Headers refuses is left out, as no token we accept can be one. */
  private copy(): Headers {
    const headers = new Headers();
    for (const [key, value] of Object.entries(this.metadata.getMap())) {
      if (typeof value === "string") {
        try {
          headers.append(key, value);
        } catch {
          // left out, see above
        }
      }
    }
    return headers;
  }
}

/** Headers as gRPC metadata (the metadata itself when they are over one); undefined when there are none, so that nothing is sent. */
export function metadataOf(headers: Headers): grpc.Metadata | undefined {
  if (headers instanceof MetadataHeaders) {
    return headers.metadata;
  }
  let metadata: grpc.Metadata | undefined;
  headers.forEach((value, key) => (metadata ??= new grpc.Metadata()).add(key, value));
  return metadata;
}
