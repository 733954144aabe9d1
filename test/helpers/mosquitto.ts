/**
 * A real Mosquitto for integration tests, on a free port, with its own config file in a temp
 * directory. The config carries the settings loss-free operation needs (DESIGN.md, "Mosquitto
 * drops messages silently"): `max_queued_messages 1000000`, the default in-flight window of 20
 * stated explicitly, and `set_tcp_nodelay true`.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { freePort } from './ports.js';
import { tempDir } from './tmp.js';

export interface MosquittoOptions {
  /** Keep the message store on disk (saved every second and on SIGTERM), so a restart keeps sessions. Default false. */
  persistence?: boolean;
  /** Directory for the config, log and store. Default: a fresh temp dir, removed on stop(). */
  dir?: string;
  /** `username -> password` pairs: anonymous access is then refused (needs mosquitto_passwd). */
  users?: Record<string, string>;
  /** `max_inflight_messages`: QoS 1 messages sent to a client before waiting for PUBACKs. Default 20 (Mosquitto's). */
  maxInflight?: number;
}

export interface MosquittoHandle {
  port: number;
  url: string;
  dir: string;
  /** SIGTERM (Mosquitto saves its store), SIGKILL after 5 s; removes the temp dir it made. */
  stop(): Promise<void>;
  /** Stops and starts again on the same port and store. */
  restart(): Promise<void>;
  /** What Mosquitto logged so far. */
  log(): string;
}

export function mosquittoBinary(): string {
  if (existsSync('/usr/sbin/mosquitto')) return '/usr/sbin/mosquitto';
  const found = spawnSync('sh', ['-c', 'command -v mosquitto'], { encoding: 'utf8' }).stdout.trim();
  if (found === '') throw new Error('mosquitto not found: run scripts/install-test-deps.sh');
  return found;
}

/** Path of mosquitto_passwd, or null when it is not installed. */
export function mosquittoPasswdBinary(): string | null {
  for (const p of ['/usr/bin/mosquitto_passwd', '/usr/sbin/mosquitto_passwd']) if (existsSync(p)) return p;
  const found = spawnSync('sh', ['-c', 'command -v mosquitto_passwd'], { encoding: 'utf8' }).stdout.trim();
  return found === '' ? null : found;
}

export async function startMosquitto(options: MosquittoOptions = {}): Promise<MosquittoHandle> {
  const own = options.dir === undefined ? tempDir('fluxion-edge-mosquitto-') : null;
  const dir = options.dir ?? own!.path;
  const port = await freePort();
  const logFile = join(dir, 'mosquitto.log');
  const lines = [
    `listener ${port} 127.0.0.1`,
    'max_queued_messages 1000000',
    `max_inflight_messages ${options.maxInflight ?? 20}`,
    'set_tcp_nodelay true',
    `log_dest file ${logFile}`,
    'log_type error',
    'log_type warning',
    'log_type notice',
    'log_type information',
    // Running as root, Mosquitto would switch to the `mosquitto` user, who cannot write here.
    'user root',
  ];
  if (options.persistence === true) {
    lines.push('persistence true', `persistence_location ${dir}/`, 'autosave_interval 1');
  }
  if (options.users !== undefined) {
    const passwd = mosquittoPasswdBinary();
    if (passwd === null) throw new Error('mosquitto_passwd not found');
    const file = join(dir, 'passwords');
    let first = true;
    for (const [user, password] of Object.entries(options.users)) {
      const r = spawnSync(passwd, first ? ['-b', '-c', file, user, password] : ['-b', file, user, password], { encoding: 'utf8' });
      if (r.status !== 0) throw new Error(`mosquitto_passwd failed: ${r.stderr}`);
      first = false;
    }
    lines.push('allow_anonymous false', `password_file ${file}`);
  } else {
    lines.push('allow_anonymous true');
  }
  const configFile = join(dir, 'mosquitto.conf');
  writeFileSync(configFile, lines.join('\n') + '\n');

  let child: ChildProcess | null = null;
  const launch = async (): Promise<void> => {
    const proc = spawn(mosquittoBinary(), ['-c', configFile], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    proc.stderr?.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child = proc;
    const deadline = Date.now() + 10_000;
    while (!(await accepts(port))) {
      if (proc.exitCode !== null) throw new Error(`mosquitto exited with ${proc.exitCode}: ${stderr}`);
      if (Date.now() > deadline) throw new Error(`mosquitto did not listen on ${port}: ${stderr}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  };
  const kill = async (): Promise<void> => {
    const proc = child;
    child = null;
    if (proc === null || proc.exitCode !== null || proc.signalCode !== null) return;
    const exited = new Promise<void>((r) => proc.once('exit', () => r()));
    proc.kill('SIGTERM');
    const timer = setTimeout(() => proc.kill('SIGKILL'), 5000);
    await exited;
    clearTimeout(timer);
  };

  await launch();
  return {
    port,
    url: `mqtt://127.0.0.1:${port}`,
    dir,
    async stop() {
      await kill();
      own?.cleanup();
    },
    async restart() {
      await kill();
      await launch();
    },
    log: () => (existsSync(logFile) ? readFileSync(logFile, 'utf8') : ''),
  };
}

function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect({ port, host: '127.0.0.1' });
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}
