// The in-process replacement for Postfix's private/ unix sockets: a service
// that others call (cleanup, trivial-rewrite, anvil, bounce, ...) publishes its
// API under a typed key, and callers look it up when they need it. Lookups are
// made at use time, not at start, so start order between services is free.

/** A typed name for an API; create one per API next to its interface. */
export interface ServiceKey<T> {
  readonly name: string;
  /** Phantom field carrying T; never set. */
  readonly __type?: T;
}

export function serviceKey<T>(name: string): ServiceKey<T> {
  return { name };
}

export class ServiceDirectory {
  private readonly apis = new Map<string, unknown>();

  provide<T>(key: ServiceKey<T>, api: T): void {
    this.apis.set(key.name, api);
  }

  /** Remove an API when its service stops, unless another instance replaced it since. */
  withdraw<T>(key: ServiceKey<T>, api: T): void {
    if (this.apis.get(key.name) === api) this.apis.delete(key.name);
  }

  get<T>(key: ServiceKey<T>): T | undefined {
    return this.apis.get(key.name) as T | undefined;
  }
}
