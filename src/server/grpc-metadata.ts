import * as grpc from "@grpc/grpc-js";

/** gRPC request metadata as fetch Headers, for interceptors and handler contexts (binary `-bin` entries left out). */
export function headersFromMetadata(metadata: grpc.Metadata): Headers {
  const headers = new Headers();
  for (const [key, value] of Object.entries(metadata.getMap())) {
    if (typeof value === "string") {
      try {
        headers.append(key, value);
      } catch {
        // a value that fetch's Headers refuses cannot be a token we accept
      }
    }
  }
  return headers;
}

/** Headers as gRPC metadata; undefined when there are none, so that nothing is sent. */
export function metadataFromHeaders(headers: Headers): grpc.Metadata | undefined {
  let metadata: grpc.Metadata | undefined;
  headers.forEach((value, key) => (metadata ??= new grpc.Metadata()).add(key, value));
  return metadata;
}
