/**
 * The MQTT input over its other transports: mqtts:// with a private CA (and refused without
 * it), ws:// and wss:// — an aedes broker behind a real TLS server and real WebSocket servers
 * (plain and over HTTPS).
 */
import { createServer as createHttpServer, type Server as HttpServer } from 'node:http';
import { createServer as createHttpsServer, type Server as HttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { createServer as createTlsServer, type Server as TlsServer } from 'node:tls';
import { Aedes } from 'aedes';
import mqtt from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createWebSocketStream, WebSocketServer } from 'ws';
import { MqttInput } from '../../src/inputs/mqtt/index.js';
import { memoryLogger } from '../helpers/agent.js';
import { QueueSink, mqttInputOptions, telemetry } from '../helpers/mqtt-harness.js';
import { tempDir } from '../helpers/tmp.js';
import { selfSignedCert } from '../helpers/tls.js';
import { waitFor } from '../helpers/wait.js';

const dir = tempDir('fluxion-mqtt-transports-');
let broker: Aedes;
let tls: TlsServer;
let http: HttpServer;
let wss: WebSocketServer;
let https: HttpsServer;
let wssTls: WebSocketServer;
let wssUrl: string;
let ca: string;
let mqttsUrl: string;
let wsUrl: string;

beforeAll(async () => {
  const { cert, key } = selfSignedCert(dir.path);
  ca = cert;
  broker = await Aedes.createBroker();
  tls = createTlsServer({ key, cert }, (socket) => broker.handle(socket));
  await new Promise<void>((r) => tls.listen(0, '127.0.0.1', r));
  mqttsUrl = `mqtts://127.0.0.1:${(tls.address() as AddressInfo).port}`;
  http = createHttpServer();
  wss = new WebSocketServer({ server: http });
  wss.on('connection', (ws) => broker.handle(createWebSocketStream(ws) as never));
  await new Promise<void>((r) => http.listen(0, '127.0.0.1', r));
  wsUrl = `ws://127.0.0.1:${(http.address() as AddressInfo).port}`;
  https = createHttpsServer({ key, cert });
  wssTls = new WebSocketServer({ server: https });
  wssTls.on('connection', (ws) => broker.handle(createWebSocketStream(ws) as never));
  await new Promise<void>((r) => https.listen(0, '127.0.0.1', r));
  wssUrl = `wss://127.0.0.1:${(https.address() as AddressInfo).port}`;
});

afterAll(async () => {
  for (const c of [...wss.clients, ...wssTls.clients]) c.terminate();
  await new Promise((r) => wss.close(r));
  await new Promise((r) => wssTls.close(r));
  await new Promise((r) => https.close(r));
  await new Promise((r) => http.close(r));
  await new Promise((r) => tls.close(r));
  await new Promise<void>((r) => broker.close(() => r()));
  dir.cleanup();
});

async function roundTrip(url: string, options: Parameters<typeof mqttInputOptions>[1], publishOpts: mqtt.IClientOptions): Promise<number[]> {
  const sink = new QueueSink(join(dir.path, `q-${Math.random().toString(16).slice(2)}`));
  const log = memoryLogger('info');
  const input = new MqttInput(mqttInputOptions(url, options), { sink, logger: log.logger });
  try {
    await input.start();
    await waitFor(() => log.lines().some((l) => l.msg === 'mqtt input subscribed'), { what: 'subscribed' });
    const device = await mqtt.connectAsync(url, { clientId: `dev-${Math.random()}`, ...publishOpts });
    for (let seq = 0; seq < 10; seq++) await device.publishAsync(`sensors/d${seq % 2}/telemetry`, telemetry(seq), { qos: 1 });
    await device.endAsync();
    await waitFor(() => input.status().committed === 10, { what: 'ten committed' });
    return [...sink.seqsByDoc().values()].flat().sort((a, b) => a - b);
  } finally {
    await input.stop();
    sink.close();
  }
}

describe('MQTT transports', () => {
  it('mqtts:// with the broker certificate trusted through tls.ca', async () => {
    const seqs = await roundTrip(mqttsUrl, { tls: { ca, rejectUnauthorized: true } }, { ca, rejectUnauthorized: true });
    expect(seqs).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  });

  it('mqtts:// refuses a certificate it cannot verify, and says so in its status', async () => {
    const sink = new QueueSink(join(dir.path, 'refused'));
    const input = new MqttInput(mqttInputOptions(mqttsUrl, { tls: { rejectUnauthorized: true } }), { sink, logger: memoryLogger('info').logger });
    try {
      await input.start();
      await waitFor(() => input.status().lastError !== null, { what: 'a TLS error' });
      expect(input.status().state).not.toBe('connected');
      expect(input.status().lastError!.message).toMatch(/self[- ]signed|certificate/i);
    } finally {
      await input.stop();
      sink.close();
    }
  });

  it('ws:// (MQTT over WebSocket)', async () => {
    const seqs = await roundTrip(wsUrl, {}, {});
    expect(seqs).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  });

  it('wss:// (MQTT over WebSocket over TLS) with the broker certificate trusted through tls.ca', async () => {
    const seqs = await roundTrip(wssUrl, { tls: { ca, rejectUnauthorized: true } }, { ca, rejectUnauthorized: true });
    expect(seqs).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  });
});
