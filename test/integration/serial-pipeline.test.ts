import { afterEach, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { unlinkSync } from 'node:fs';
import { Agent } from '../../src/agent.js';
import { parseConfig } from '../../src/config/index.js';
import { DevServer } from '../../src/devserver/index.js';
import type { SerialInputStatus } from '../../src/inputs/serial/index.js';
import { nmeaChecksum } from '../../src/mapping/nmea.js';
import { memoryLogger, TEST_KEY } from '../helpers/agent.js';
import { startPtyPair, type PtyPair } from '../helpers/socat.js';
import { tempDir } from '../helpers/tmp.js';
import { waitFor } from '../helpers/wait.js';

const BASE_TS = 1_760_000_000_000;

function nmea(body: string): string {
  return `$${body}*${nmeaChecksum(body)}`;
}

/** hhmmss.00 of an instant (UTC). */
function hhmmss(ms: number): string {
  const d = new Date(ms);
  return [d.getUTCHours(), d.getUTCMinutes(), d.getUTCSeconds()].map((n) => String(n).padStart(2, '0')).join('') + '.00';
}

interface Setup {
  server: DevServer;
  agent: Agent;
  lines: () => Array<Record<string, unknown>>;
  port: (name: string) => SerialInputStatus;
}

describe('serial ports to FluxionDB', () => {
  const cleanups: Array<() => Promise<unknown> | void> = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
  });

  async function pair(): Promise<PtyPair> {
    const p = await startPtyPair();
    cleanups.push(() => p.stop());
    return p;
  }

  async function setup(serialYaml: string): Promise<Setup> {
    const dir = tempDir();
    cleanups.push(() => dir.cleanup());
    const server = new DevServer({ port: 0, masterKey: TEST_KEY });
    await server.start();
    cleanups.push(() => server.stop());
    const yaml = `
gateway: { id: gw-serial }
fluxiondb:
  url: ${server.url}
  api_key: \${FLUXION_API_KEY}
queue: { path: ${join(dir.path, 'queue.db')}, synchronous: normal }
sender: { backoff: { base: 50ms, cap: 500ms }, linger: 5ms }
serial:
${serialYaml}`;
    const { settings } = parseConfig(yaml, { env: { FLUXION_API_KEY: TEST_KEY }, baseDir: dir.path });
    const { logger, lines } = memoryLogger('info');
    const agent = new Agent(settings.agent, logger, { mapping: settings.mapping, serial: settings.serial });
    await agent.start();
    cleanups.push(() => agent.stop());
    const port = (name: string): SerialInputStatus => agent.status().inputs.find((i) => i.name === `serial:${name}`) as SerialInputStatus;
    return { server, agent, lines, port };
  }

  it('NMEA, CSV, JSON and key=value lines from four ptys become the exact records', async () => {
    const [gps, meter, env, plc] = [await pair(), await pair(), await pair(), await pair()];
    const { server, port } = await setup(`
  - name: gps
    path: ${gps.agentPath}
    baud: 4800
    rules:
      - collection: gps
        document: truck-7
        format: nmea
        timestamp: { field: time, unit: iso }
        fields: { lat: lat, lon: lon, alt: alt?, kmh: speed_kmh? }
  - name: meter
    path: ${meter.agentPath}
    baud: 115200
    rules:
      - collection: energy
        document: "{port}"
        format: csv
        csv: { header: [ts, voltage, current] }
        timestamp: { field: ts, unit: ms }
        fields: { v: voltage, i: current }
  - name: env
    path: ${env.agentPath}
    rules:
      - collection: env
        document: "{payload.id}"
        timestamp: { field: ts, unit: ms }
        fields: { t: temp, h: hum }
  - name: plc
    path: ${plc.agentPath}
    delimiter: ";"
    rules:
      - collection: plc
        document: plc-1
        format: kv
        timestamp: { field: ts, unit: ms }
        tags: { line: "{port}" }
`);
    const fix = Math.floor(Date.now() / 1000) * 1000 - 5000;
    await gps.write(
      `${nmea(`GPGGA,${hhmmss(fix)},4807.038,N,01131.000,E,1,08,0.9,545.4,M,46.9,M,,`)}\r\n` +
        `${nmea('GPGSV,3,1,11,03,03,111,00,04,15,270,00,06,01,010,00,13,06,292,00')}\r\n` +
        `${nmea('GNRMC,083559.00,A,3352.1280,S,15112.5540,E,10.0,,170524,,,A')}\r\n`,
    );
    const meterLines = Array.from({ length: 50 }, (_, i) => `${BASE_TS + i},${230 + i / 10},${i / 100}\r\n`);
    await meter.write(meterLines.join(''));
    await env.write(`{"id":"room-1","ts":${BASE_TS},"temp":21.5,"hum":40}\n{"id":"room-2","ts":${BASE_TS + 1},"temp":19,"hum":55}\n`);
    await plc.write(`ts=${BASE_TS} speed=1200 state=run;ts=${BASE_TS + 1} speed=0 state=stop;`);

    await waitFor(() => server.recordCount() === 2 + 50 + 2 + 2, { what: 'every record stored' });
    expect(server.records('gps', 'truck-7')).toEqual([
      { ts: Date.UTC(2024, 4, 17, 8, 35, 59), data: '{"lat":-33.8688,"lon":151.209233333,"kmh":18.52}' },
      { ts: fix, data: '{"lat":48.1173,"lon":11.516666667,"alt":545.4}' },
    ]);
    expect(server.records('energy', 'meter')).toEqual(
      meterLines.map((_, i) => ({ ts: BASE_TS + i, data: JSON.stringify({ v: 230 + i / 10, i: i / 100 }) })),
    );
    expect(server.records('env', 'room-1')).toEqual([{ ts: BASE_TS, data: '{"t":21.5,"h":40}' }]);
    expect(server.records('env', 'room-2')).toEqual([{ ts: BASE_TS + 1, data: '{"t":19,"h":55}' }]);
    expect(server.records('plc', 'plc-1')).toEqual([
      { ts: BASE_TS, data: `{"ts":${BASE_TS},"speed":1200,"state":"run","line":"plc"}` },
      { ts: BASE_TS + 1, data: `{"ts":${BASE_TS + 1},"speed":0,"state":"stop","line":"plc"}` },
    ]);
    expect(port('gps')).toMatchObject({ state: 'connected', portState: 'open', linesRead: 3, linesRejected: 0, committed: 3 });
    expect(port('meter')).toMatchObject({ linesRead: 50, linesRejected: 0, committed: 50 });
    expect(port('meter').lastLineAt).toBeGreaterThan(0);
  });

  it('a port absent at start, unplugged and replugged: reopened by itself, nothing read is lost', async () => {
    const dev = await pair();
    await dev.unplug();
    const { server, agent, lines, port } = await setup(`
  - name: th
    path: ${dev.agentPath}
    commit_delay: 1s
    reopen: { base: 20ms, cap: 200ms }
    rules:
      - collection: th
        document: sensor-1
        format: kv
        timestamp: { field: ts, unit: ms }
`);
    expect(port('th')).toMatchObject({ state: 'disconnected', portState: 'waiting' });
    const line = (i: number): string => `ts=${BASE_TS + i} t=${i}\n`;

    await dev.plug();
    await waitFor(() => port('th').portState === 'open', { what: 'port opened once the device appeared' });
    await dev.write(Array.from({ length: 100 }, (_, i) => line(i)).join(''));
    // Read, but held for the 1 s commit delay when the cable goes: the close commits them.
    await waitFor(() => port('th').linesRead === 100, { what: 'lines read' });
    expect(port('th').committed).toBe(0);
    await dev.unplug();
    await waitFor(() => port('th').portState === 'waiting', { what: 'port seen gone' });
    expect(port('th').committed).toBe(100);

    await dev.plug();
    await waitFor(() => port('th').portState === 'open', { what: 'port reopened' });
    await dev.write(Array.from({ length: 100 }, (_, i) => line(100 + i)).join(''));
    await waitFor(() => server.recordCount() === 200, { what: 'every line stored' });
    expect(server.records('th', 'sensor-1')).toEqual(Array.from({ length: 200 }, (_, i) => ({ ts: BASE_TS + i, data: `{"ts":${BASE_TS + i},"t":${i}}` })));
    expect(port('th')).toMatchObject({ reopens: 1, linesRead: 200, linesRejected: 0, state: 'connected' });
    expect(agent.status().ingest.deadLettered).toBe(0);
    // Logged once per outage, not once per attempt.
    const said = (text: string): number => lines().filter((l) => String(l.msg).includes(text)).length;
    expect(said('serial port not available')).toBe(1);
    expect(said('serial port closed (unplugged?)')).toBe(1);
    expect(said('serial port is back')).toBe(1);
  });

  it('closes a port whose device node vanished even when no read error comes, and reopens it when it is back', async () => {
    const dev = await pair();
    const { port, lines } = await setup(`
  - name: usb
    path: ${dev.agentPath}
    reopen: { base: 20ms, cap: 200ms }
    rules:
      - collection: usb
        document: d
        format: kv
        timestamp: { field: ts, unit: ms }
`);
    await waitFor(() => port('usb').portState === 'open', { what: 'port open' });
    // The link goes but the pty behind it stays: nothing makes the open port fail by itself.
    unlinkSync(dev.agentPath);
    await waitFor(() => port('usb').portState === 'waiting', { what: 'port closed by the device-node check' });
    expect(lines().some((l) => String(l.msg).includes('serial port closed (unplugged?)'))).toBe(true);
    await dev.restart();
    await waitFor(() => port('usb').portState === 'open', { what: 'port reopened' });
  });

  it('writes the poll command on schedule and maps the answer; a missed answer is counted', async () => {
    const dev = await pair();
    const { server, port } = await setup(`
  - name: meter
    path: ${dev.agentPath}
    baud: 9600
    parity: even
    data_bits: 7
    poll: { command: "READ\\r\\n", schedule: "* * * * * *", response_timeout: 800ms }
    rules:
      - collection: energy
        document: meter-1
        format: regex
        regex: "V=(?<voltage>[\\\\d.]+) I=(?<current>[\\\\d.]+)"
`);
    // The device answers the first two polls only.
    let answered = 0;
    await waitFor(
      async () => {
        const polls = dev.received().split('READ\r\n').length - 1;
        while (answered < Math.min(polls, 2)) {
          answered++;
          await dev.write(`V=230.${answered} I=1.${answered}\r\n`);
        }
        return polls >= 3 && port('meter').polls!.timeouts >= 1;
      },
      { timeoutMs: 20_000, intervalMs: 10, what: 'three polls, two answered, one missed' },
    );
    await waitFor(() => server.recordCount() === 2, { what: 'answers stored' });
    expect(server.records('energy', 'meter-1').map((r) => r.data)).toEqual(['{"voltage":230.1,"current":1.1}', '{"voltage":230.2,"current":1.2}']);
    // Exact per-poll attribution depends on timing (a loaded machine can fire two cron ticks
    // close together); what must hold: answers counted, the missed one counted, none skipped.
    const polls = port('meter').polls!;
    expect(polls.skipped).toBe(0);
    expect(polls.answered).toBeGreaterThanOrEqual(1);
    expect(polls.timeouts).toBeGreaterThanOrEqual(1);
    expect(polls.sent).toBeGreaterThanOrEqual(3);
  });

  it('bad checksums, binary garbage and over-long lines are dead letters; valid lines around them arrive', async () => {
    const dev = await pair();
    const { server, agent, port } = await setup(`
  - name: gps
    path: ${dev.agentPath}
    max_line_bytes: 128
    rules:
      - collection: gps
        document: truck-7
        format: nmea
        nmea: { sentences: [RMC] }
        timestamp: { field: time, unit: iso }
        fields: { lat: lat, lon: lon }
`);
    const good = (i: number): string => nmea(`GPRMC,1200${String(i).padStart(2, '0')}.00,A,4807.038,N,01131.000,E,0.0,,170524,,`);
    const badSum = good(50).slice(0, -2) + '00';
    const chunks = [
      `${good(0)}\r\n`,
      `${badSum}\r\n`,
      `${good(1)}\r\n`,
      // One read: the invalid line waits for its commit group when the over-long one is framed.
      Buffer.concat([Buffer.from([0x00, 0xff, 0xfe, 0x81, 0x24, 0x0a]), Buffer.from(`${good(2)}\r\n$GPRMC,${'9'.repeat(500)}\r\n`)]),
      `${good(3)}\r\n`,
      `${nmea('GPGGA,120004.00,4807.038,N,01131.000,E,1,08,0.9,545.4,M,46.9,M,,')}\r\n`,
      `${good(4)}\r\n`,
    ];
    for (const c of chunks) await dev.write(c);
    await waitFor(() => server.recordCount() === 5 && agent.status().ingest.deadLettered === 3, { what: 'good lines stored, bad ones dead-lettered' });
    expect(server.records('gps', 'truck-7')).toEqual(
      [0, 1, 2, 3, 4].map((i) => ({ ts: Date.UTC(2024, 4, 17, 12, 0, i), data: '{"lat":48.1173,"lon":11.516666667}' })),
    );
    // In arrival order: a framing reject (the over-long line) is committed in its place among
    // the lines around it, not filed ahead of those read before it.
    const dead = agent.queue
      .listDeadLetters({ limit: 10 })
      .map((d) => ({ reason: d.reason, origin: d.origin, source: d.source }));
    expect(dead).toEqual([
      { source: 'serial', origin: 'gps', reason: `parse_error: NMEA checksum mismatch: sentence says 00, computed ${nmeaChecksum(badSum.slice(1, -3))}` },
      { source: 'serial', origin: 'gps', reason: 'parse_error: payload is not valid UTF-8' },
      { source: 'serial', origin: 'gps', reason: 'too_large: line of 507 bytes is over max_line_bytes (128); its first 128 bytes are kept' },
    ]);
    // The GGA line is valid but not listed: filtered, not a dead letter.
    expect(agent.status().mapping!.filtered).toBe(1);
    // Every line read was committed: mapped, filtered or dead-lettered (the over-long one too).
    expect(port('gps')).toMatchObject({ linesRead: 9, linesRejected: 3, committed: 9 });
  });
  it('the field trial: NMEA, CSV and key=value rules on one port, no match; dead letters only for lines no rule took', async () => {
    const dev = await pair();
    const { server, agent } = await setup(`
  - name: line1
    path: ${dev.agentPath}
    rules:
      - { collection: gps, document: truck-7, format: nmea, timestamp: { field: time, unit: iso }, fields: { lat: lat, lon: lon } }
      - { collection: energy, document: meter-1, format: csv, csv: { header: [ts, v, i, p] }, timestamp: { field: ts, unit: ms }, coerce: number }
      - { collection: plc, document: plc-1, format: kv, fields: { state: state, speed: speed } }
`);
    const fix = Math.floor(Date.now() / 1000) * 1000 - 5000;
    const csv = Array.from({ length: 2000 }, (_, i) => `${BASE_TS + i},230.${i % 10},4.2,966\r\n`).join('');
    await dev.write(`${nmea(`GPGGA,${hhmmss(fix)},4807.038,N,01131.000,E,1,08,0.9,545.4,M,46.9,M,,`)}\r\n`);
    await dev.write(`${nmea('GPGSV,3,1,11,03,03,111,00,04,15,270,00,06,01,010,00,13,06,292,00')}\r\n`);
    await dev.write(csv);
    await dev.write('state=run speed=1200\r\n???\r\n');
    await waitFor(() => server.recordCount() === 1 + 2000 + 1 && agent.status().ingest.received === 2004, { what: 'every line mapped' });
    expect(server.records('gps', 'truck-7')).toHaveLength(1);
    expect(server.records('plc', 'plc-1')).toEqual([{ ts: expect.any(Number), data: '{"state":"run","speed":1200}' }]);
    expect(agent.queue.listDeadLetters({ limit: 10 }).map((d) => d.reason)).toEqual([
      "rules[0] parse_error: not an NMEA sentence (no leading $); rules[1] parse_error: csv line has 1 cells, the header has 4; rules[2] parse_error: kv pair '???' has no '='",
    ]);
  });
});
