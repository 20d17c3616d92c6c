import type { DescMethod, DescService } from "@bufbuild/protobuf";
import type { ContextValues, HandlerContext } from "@connectrpc/connect";
import type { CallScope } from "./call-scope.ts";
import { MetadataHeaders } from "./metadata-headers.ts";

/** What a handler context is made from: the request as the interceptors passed it on. */
export interface HandlerContextInit {
  readonly service: DescService;
  readonly method: DescMethod;
  readonly url: string;
  readonly header: Headers;
  readonly contextValues: ContextValues;
}

/**
 * The HandlerContext of every grpc-js call, unary or streaming, with or
 * without interceptors. Not connect's createHandlerContext, which copies the
 * request headers into new Headers and links two AbortControllers per call:
 * here the headers are the metadata's, the signal is the scope's (made when
 * asked for), and the response header and trailer are metadata made when
 * first written.
 */
export class GrpcHandlerContext implements HandlerContext {
  readonly service: DescService;
  readonly method: DescMethod;
  readonly url: string;
  readonly requestHeader: Headers;
  readonly values: ContextValues;
  readonly requestMethod = "POST";
  readonly protocolName = "grpc";
  private readonly scope: CallScope;
  private header: MetadataHeaders | undefined;
  private trailer: MetadataHeaders | undefined;

  constructor(init: HandlerContextInit, scope: CallScope) {
    this.service = init.service;
    this.method = init.method;
    this.url = init.url;
    this.requestHeader = init.header;
    this.values = init.contextValues;
    this.scope = scope;
  }

  get signal(): AbortSignal {
    return this.scope.signal;
  }

  timeoutMs(): number | undefined {
    return this.scope.timeoutMs();
  }

  get responseHeader(): Headers {
    return (this.header ??= new MetadataHeaders());
  }

  get responseTrailer(): Headers {
    return (this.trailer ??= new MetadataHeaders());
  }

  /** The response header, if anything was written to it. */
  get writtenHeader(): MetadataHeaders | undefined {
    return this.header;
  }

  /** The response trailer, if anything was written to it. */
  get writtenTrailer(): MetadataHeaders | undefined {
    return this.trailer;
  }
}
