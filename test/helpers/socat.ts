/**
 * A real pseudo-terminal pair made by socat, standing in for a serial device and its cable:
 * the agent opens `agentPath`, the test plays the device on `devicePath` (through a
 * SerialPort, so writes and reads never block). `unplug()` kills socat (both links vanish
 * and the agent's port closes, as when a USB adapter is pulled); `plug()` makes a new pair
 * at the same paths.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { SerialPort } from 'serialport';
import { tempDir } from './tmp.js';
import { waitFor } from './wait.js';

export interface PtyPair {
  /** Where the test plays the device. */
  devicePath: string;
  /** What the agent opens. */
  agentPath: string;
  /** Writes to the device end; resolves when the bytes are handed to the pty. */
  write(data: string | Buffer): Promise<void>;
  /** What the agent wrote to the device (poll commands), since the pair was (re)made. */
  received(): string;
  /** Kills socat: both ends vanish. */
  unplug(): Promise<void>;
  /** Makes a new pair at the same paths, waiting until both links exist. */
  plug(): Promise<void>;
  /** unplug() then plug(). */
  restart(): Promise<void>;
  /** Kills socat and removes the temp dir. Safe to call twice. */
  stop(): Promise<void>;
}

export function socatBinary(): string {
  if (existsSync('/usr/bin/socat')) return '/usr/bin/socat';
  const found = spawnSync('sh', ['-c', 'command -v socat'], { encoding: 'utf8' }).stdout.trim();
  if (found === '') throw new Error('socat not found: run scripts/install-test-deps.sh');
  return found;
}

/**
 * `openDevice: false` leaves the device end to another process (a Modbus slave): `write`
 * and `received` then do nothing useful.
 */
export async function startPtyPair({ openDevice = true }: { openDevice?: boolean } = {}): Promise<PtyPair> {
  const dir = tempDir('fluxion-edge-pty-');
  const devicePath = join(dir.path, 'device');
  const agentPath = join(dir.path, 'agent');
  let child: ChildProcess | null = null;
  let device: SerialPort | null = null;
  let got = '';
  let stopped = false;

  const plug = async (): Promise<void> => {
    got = '';
    const c = spawn(socatBinary(), ['-d', '-d', `pty,raw,echo=0,link=${devicePath}`, `pty,raw,echo=0,link=${agentPath}`], { stdio: ['ignore', 'ignore', 'pipe'] });
    let log = '';
    c.stderr!.setEncoding('utf8').on('data', (d: string) => void (log += d));
    child = c;
    // socat creates the links, then logs "starting data transfer loop" once both ptys are ready.
    await waitFor(() => log.includes('starting data transfer loop') && existsSync(devicePath) && existsSync(agentPath), { timeoutMs: 15_000, what: `socat pty pair (${log})` });
    if (!openDevice) return;
    const d = new SerialPort({ path: devicePath, baudRate: 115200, autoOpen: false });
    await new Promise<void>((resolve, reject) => d.open((err) => (err ? reject(err) : resolve())));
    d.on('data', (b: Buffer) => void (got += b.toString('latin1')));
    d.on('error', () => undefined);
    device = d;
  };

  const unplug = async (): Promise<void> => {
    const d = device;
    device = null;
    if (d?.isOpen) await new Promise<void>((resolve) => d.close(() => resolve()));
    const c = child;
    child = null;
    if (c !== null && c.exitCode === null && c.signalCode === null) {
      await new Promise<void>((resolve) => {
        c.once('exit', () => resolve());
        c.kill('SIGTERM');
      });
    }
    await waitFor(() => !existsSync(devicePath) && !existsSync(agentPath), { timeoutMs: 15_000, what: "pty links removed" });
  };

  await plug();
  return {
    devicePath,
    agentPath,
    write(data) {
      const d = device;
      if (d === null) return Promise.reject(new Error('the pty pair is unplugged'));
      return new Promise<void>((resolve, reject) => {
        d.write(data, (err) => {
          if (err) return reject(err);
          d.drain((e) => (e ? reject(e) : resolve()));
        });
      });
    },
    received: () => got,
    unplug,
    plug,
    async restart() {
      await unplug();
      await plug();
    },
    async stop() {
      if (stopped) return;
      stopped = true;
      await unplug().catch(() => undefined);
      dir.cleanup();
    },
  };
}
