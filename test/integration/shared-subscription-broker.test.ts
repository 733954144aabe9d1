import mqtt, { type MqttClient } from 'mqtt';
import { afterEach, describe, expect, it } from 'vitest';
import { startMosquitto } from '../helpers/mosquitto.js';
import { waitFor } from '../helpers/wait.js';

/**
 * What Mosquitto does with a dead member of a shared subscription, so the README's recipe
 * states it from a test, not from a guess (issue 11 §3). Three bare mqtt.js members with
 * persistent sessions; member A stops acknowledging after two messages and then dies
 * without a DISCONNECT (as a SIGKILLed agent does).
 */
describe('Mosquitto shared subscriptions with persistent sessions', () => {
  const cleanups: Array<() => Promise<unknown> | void> = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
  });

  for (const protocolVersion of [4, 5] as const) {
    it(`MQTT ${protocolVersion === 4 ? '3.1.1' : '5'}: a dead member's in-flight messages and its share of new ones wait for it, then come to it alone`, async () => {
      const broker = await startMosquitto();
      cleanups.push(() => broker.stop());
      const got: Record<string, Array<{ n: number; dup: boolean }>> = { a: [], b: [], c: [], a2: [] };
      const member = async (id: string, name: string, ackFirst = Infinity): Promise<MqttClient> => {
        const client = mqtt.connect(broker.url, {
          clientId: `member-${id}`,
          clean: false,
          reconnectPeriod: 0,
          protocolVersion,
          // MQTT 5 ends a session at disconnect unless it is given an expiry (the agent sets the longest).
          ...(protocolVersion === 5 ? { properties: { sessionExpiryInterval: 0xffffffff } } : {}),
        });
        // Set before CONNACK: a resumed session's messages come right behind it.
        client.handleMessage = (packet, done) => {
          got[name]!.push({ n: Number(String(packet.payload)), dup: packet.dup });
          if (got[name]!.length <= ackFirst) done();
        };
        cleanups.push(() => void client.end(true));
        await new Promise((r) => client.once('connect', r));
        await client.subscribeAsync('$share/edge/t/#', { qos: 1 });
        return client;
      };
      const a = await member('a', 'a', 2);
      await member('b', 'b');
      await member('c', 'c');
      const pub = await mqtt.connectAsync(broker.url, { clientId: `pub-${protocolVersion}` });
      cleanups.push(() => void pub.end(true));
      const publish = async (from: number, to: number): Promise<void> => {
        for (let n = from; n < to; n++) await pub.publishAsync('t/x', String(n), { qos: 1 });
      };
      await publish(0, 60);
      await waitFor(() => got.a!.length === 3 && got.b!.length + got.c!.length === 40, { what: 'the first round' });
      // A took messages 0, 3, 6 (acked two, then stopped); the broker holds its later share in its session.
      expect(got.a!.map((m) => m.n)).toEqual([0, 3, 6]);
      a.stream.destroy();
      await waitFor(() => /(Client member-a closed its connection|Socket error on client member-a)/.test(broker.log()), { what: 'the broker saw A die' });

      await publish(60, 90);
      await waitFor(() => got.b!.length + got.c!.length === 60, { what: 'the live members took their share' });
      const live = new Set([...got.b!, ...got.c!].map((m) => m.n));

      // A comes back under the same client id: the held messages come to it, the unacked ones with DUP.
      await member('a', 'a2');
      await waitFor(() => live.size + got.a!.length - 1 + got.a2!.length >= 90, { what: 'every message delivered' });
      const back = got.a2!;
      const all = new Set([...got.a!.slice(0, 2).map((m) => m.n), ...live, ...back.map((m) => m.n)]);
      expect(all.size).toBe(90);
      // The message A saw but never acked comes again, marked DUP; the rest of its first-round share too.
      expect(back.filter((m) => m.dup).map((m) => m.n)).toContain(6);
      // Messages published while A was dead went partly to A (queued in its session), never to both.
      const heldForA = back.filter((m) => m.n >= 60).map((m) => m.n);
      expect(heldForA.length).toBeGreaterThan(0);
      for (const n of heldForA) expect(live.has(n)).toBe(false);
    });
  }
});
