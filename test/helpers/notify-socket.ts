/**
 * A NOTIFY_SOCKET receiver for sd_notify tests. Node cannot bind a unix datagram socket, so a
 * few lines of python3 do: they print each datagram as one JSON line. systemd-notify follows
 * each message with BARRIER=1 and waits until the receiver read it, as systemd does; the
 * receiver reads it like any datagram (its fd is discarded).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { tempDir } from './tmp.js';
import { waitFor } from './wait.js';

const RECEIVER = `
import json, socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
print(json.dumps("LISTENING"), flush=True)
while True:
    print(json.dumps(s.recv(65536).decode()), flush=True)
`;

export interface NotifyReceiver {
  path: string;
  /** Datagrams received so far, BARRIER=1 left out. */
  messages(): string[];
  stop(): void;
}

export async function notifyReceiver(): Promise<NotifyReceiver> {
  const dir = tempDir();
  const path = join(dir.path, 'notify.sock');
  const child: ChildProcess = spawn('python3', ['-c', RECEIVER, path], { stdio: ['ignore', 'pipe', 'inherit'] });
  const lines: string[] = [];
  let buf = '';
  child.stdout!.setEncoding('utf8').on('data', (d: string) => {
    buf += d;
    const parts = buf.split('\n');
    buf = parts.pop()!;
    for (const p of parts) lines.push(JSON.parse(p) as string);
  });
  const stop = (): void => {
    child.kill('SIGKILL');
    dir.cleanup();
  };
  try {
    await waitFor(() => lines.includes('LISTENING'), { what: 'the python3 receiver' });
  } catch (err) {
    stop();
    throw err;
  }
  return { path, messages: () => lines.filter((l) => l !== 'LISTENING' && l !== 'BARRIER=1'), stop };
}
