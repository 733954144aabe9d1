import { EventEmitter } from 'node:events';
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { FluxionError, FluxionErrorCodes } from '../../../src/client/index.js';
import { ReconnectLoop, type SessionEnd } from '../../../src/shared/reconnect-loop.js';
import { waitFor } from '../../helpers/wait.js';

/** A client whose connect() fails while `failing` is set; each attempt moves the fake clock 1 s. */
class FakeClient extends EventEmitter {
  attempts = 0;
  closed = 0;
  constructor(
    public failWith: Error | null,
    private readonly clock: { t: number },
  ) {
    super();
  }
  async connect(): Promise<void> {
    this.attempts++;
    this.clock.t += 1000;
    if (this.failWith !== null) throw this.failWith;
  }
  async close(): Promise<void> {
    this.closed++;
  }
}

function setUp(failWith: Error | null, session: () => Promise<SessionEnd> = () => Promise.resolve('stopping')) {
  const clock = { t: 0 };
  const lines: Array<Record<string, unknown>> = [];
  const logger = pino({ level: 'info' }, { write: (s: string) => void lines.push(JSON.parse(s) as Record<string, unknown>) });
  const client = new FakeClient(failWith, clock);
  let reconnects = 0;
  const loop = new ReconnectLoop(
    {
      retry: { backoffBaseMs: 1, backoffCapMs: 1, backoffResetAfterMs: 60_000, authRetryMs: 1 },
      fallbackCode: 'EDGE_ERR_SEND',
      target: 'FluxionDB',
      authRefusedMessage: 'refused',
    },
    { client, logger, session, onReconnect: () => void reconnects++, now: () => clock.t },
  );
  return { loop, client, lines, reconnects: () => reconnects };
}

describe('ReconnectLoop', () => {
  it('logs "cannot reach FluxionDB; will retry" through the rate-limited log, with counts', async () => {
    const { loop, client, lines, reconnects } = setUp(new Error('ECONNREFUSED'));
    loop.start();
    // 45 attempts, 1 s apart on the fake clock: one line per 10 s, not one per attempt.
    await waitFor(() => client.attempts >= 45, { what: '45 attempts' });
    await loop.stop();
    const warned = lines.filter((l) => l.msg === 'cannot reach FluxionDB; will retry');
    expect(warned.length).toBeGreaterThanOrEqual(4);
    expect(warned.length).toBeLessThanOrEqual(Math.ceil(client.attempts / 10));
    expect(warned[0]).toMatchObject({ err: 'ECONNREFUSED', failures: 1 });
    expect(warned[0]!.suppressed).toBeUndefined();
    expect(warned[1]).toMatchObject({ failures: 11, suppressed: 9 });
    expect(reconnects()).toBe(client.attempts);
    expect(loop.lastError).toMatchObject({ code: 'EDGE_ERR_SEND', message: 'ECONNREFUSED' });
    expect(loop.state).toBe('stopped');
  });

  it('pauses after an authentication refusal (error level, each time) instead of backing off', async () => {
    const { loop, client, lines } = setUp(new FluxionError(FluxionErrorCodes.AUTH, 'bad key'));
    loop.start();
    await waitFor(() => client.attempts >= 3, { what: 'three attempts' });
    await loop.stop();
    expect(lines.filter((l) => l.msg === 'refused').length).toBeGreaterThanOrEqual(3);
    expect(lines.some((l) => l.msg === 'cannot reach FluxionDB; will retry')).toBe(false);
    expect(loop.lastError?.code).toBe(FluxionErrorCodes.AUTH);
  });

  it('runs the session on each connection and reconnects after it ends; stop() is safe twice', async () => {
    let sessions = 0;
    const { loop, client, lines } = setUp(null, async () => {
      sessions++;
      if (sessions < 3) return 'lost';
      await loop.waitForWake();
      return 'stopping';
    });
    loop.start();
    loop.start();
    await waitFor(() => sessions === 3 && loop.state === 'connected', { what: 'third session' });
    expect(client.attempts).toBe(3);
    expect(lines.filter((l) => l.msg === 'connection to FluxionDB lost; will reconnect').length).toBeGreaterThanOrEqual(1);
    await Promise.all([loop.stop(), loop.stop()]);
    expect(loop.state).toBe('stopped');
    expect(client.closed).toBe(1);
    expect(client.listenerCount('close')).toBe(0);
  });

  it('marks the connection lost on the client close event and wakes the session', async () => {
    let sawLost = false;
    const { loop, client } = setUp(null, async () => {
      await loop.waitForWake();
      sawLost = loop.connectionLost;
      return 'stopping';
    });
    loop.start();
    await waitFor(() => loop.state === 'connected', { what: 'connected' });
    client.emit('close');
    await waitFor(() => sawLost, { what: 'the session to see the close' });
    await loop.stop();
  });
});
