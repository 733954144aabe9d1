/**
 * The embedded broker (aedes on a TCP server) for gateways that run nothing else: devices
 * publish to it, and the agent's MqttInput connects to it like to any broker, so the mapping
 * and the guarantees are the same from the moment the input receives a message.
 *
 * What it does not give:
 * - No persistence across restarts of the agent: sessions, subscriptions and the QoS 1
 *   messages held for an offline subscriber live in memory and die with the process. A
 *   message is safe only once the input committed it (it then acknowledges it to aedes).
 * - Devices that publish while the agent is down get no connection and no PUBACK: resending
 *   is their own MQTT session's job (QoS 1 with a persistent session on the device side).
 * - No TLS, no WebSocket and no authentication: it listens on `host` only (127.0.0.1 by
 *   default); put it on a LAN address only behind a firewall that admits the devices.
 */
import { createServer, type Server } from 'node:net';
import { Aedes } from 'aedes';
import type { Logger } from 'pino';
import type { EmbeddedBrokerOptions } from './types.js';

export interface EmbeddedBrokerDeps {
  logger: Logger;
}

export class EmbeddedBroker {
  private broker: Aedes | null = null;
  private server: Server | null = null;
  private listeningPort = 0;
  private stopping: Promise<void> | null = null;

  constructor(
    private readonly options: EmbeddedBrokerOptions,
    private readonly deps: EmbeddedBrokerDeps,
  ) {}

  /** The port it listens on (the one the OS chose when `port` was 0); 0 before start. */
  get port(): number {
    return this.listeningPort;
  }

  /** URL for clients on this host, e.g. `mqtt://127.0.0.1:1883`. */
  get url(): string {
    const host = this.options.host.includes(':') ? `[${this.options.host}]` : this.options.host;
    return `mqtt://${host === '0.0.0.0' ? '127.0.0.1' : host}:${this.listeningPort}`;
  }

  async start(): Promise<void> {
    if (this.broker !== null || this.stopping !== null) return;
    const broker = await Aedes.createBroker();
    this.broker = broker;
    broker.on('clientError', (client, err) =>
      this.deps.logger.debug({ clientId: client.id, err: err.message }, 'embedded broker: client error'),
    );
    broker.on('connectionError', (_client, err) =>
      this.deps.logger.debug({ err: err.message }, 'embedded broker: connection error'),
    );
    const server = createServer((socket) => {
      // Nagle would hold small MQTT packets for 20-40 ms.
      socket.setNoDelay(true);
      broker.handle(socket);
    });
    this.server = server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.options.port, this.options.host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    const addr = server.address();
    this.listeningPort = typeof addr === 'object' && addr !== null ? addr.port : this.options.port;
    this.deps.logger.info({ host: this.options.host, port: this.listeningPort }, 'embedded MQTT broker listening');
  }

  /** Closes the listener, every client connection and the broker. Safe to call twice. */
  stop(): Promise<void> {
    if (this.stopping !== null) return this.stopping;
    this.stopping = (async () => {
      const server = this.server;
      const broker = this.broker;
      if (server !== null) {
        const closed = new Promise<void>((resolve) => server.close(() => resolve()));
        // broker.close() ends every client's connection, which lets server.close() finish.
        if (broker !== null) await new Promise<void>((resolve) => broker.close(() => resolve()));
        await closed;
      } else if (broker !== null) {
        await new Promise<void>((resolve) => broker.close(() => resolve()));
      }
      this.deps.logger.info('embedded MQTT broker stopped');
    })();
    return this.stopping;
  }
}
