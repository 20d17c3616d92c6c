import type { ContextKey, ContextValues } from "@connectrpc/connect";

/**
 * ContextValues with its methods on the prototype: connect's
 * createContextValues makes an object and three functions per call, and
 * every gRPC call makes one.
 */
export class CallValues implements ContextValues {
  private readonly values = new Map<symbol, unknown>();

  get<T>(key: ContextKey<T>): T {
    return this.values.has(key.id) ? (this.values.get(key.id) as T) : key.defaultValue;
  }

  set<T>(key: ContextKey<T>, value: T): this {
    this.values.set(key.id, value);
    return this;
  }

  delete(key: ContextKey<unknown>): this {
    this.values.delete(key.id);
    return this;
  }
}
