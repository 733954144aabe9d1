/** FluxionClients for tests against a dev server: no reconnect, a 5 s request timeout, all closed together. */
import { FluxionClient, type FluxionClientOptions } from '../../src/client/index.js';

export interface ClientPool {
  /** A new client of `server.url` with `apiKey`; `options` override the test defaults. */
  client(options?: Partial<FluxionClientOptions>): FluxionClient;
  /** Closes every client made so far (call in afterEach). */
  closeAll(): Promise<void>;
}

export function clientPool(server: () => { url: string }, apiKey: string): ClientPool {
  const clients: FluxionClient[] = [];
  return {
    client(options = {}) {
      const c = new FluxionClient({ url: server().url, apiKey, requestTimeoutMs: 5000, reconnect: false, ...options });
      clients.push(c);
      return c;
    },
    async closeAll() {
      await Promise.all(clients.splice(0).map((c) => c.close()));
    },
  };
}
