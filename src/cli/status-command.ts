/**
 * `fluxion-edge status`: what the agent is doing, for a person at a terminal (or --json
 * for a script). Two sources, each optional:
 * - the running agent's `/status` (when `health.enabled`): inputs, sender state, send
 *   rate, last error, health;
 * - the queue file, opened read-only (works beside a running agent, and after it
 *   stopped): depth, oldest unsent reading, dead letters, drops by reason.
 * Nothing from the config is printed, and every string is scrubbed of the configured
 * secrets before it is shown.
 */
import { request } from 'node:http';
import type { AgentStatus } from '../agent.js';
import { formatProblems, loadConfig, problemsOf } from '../config/index.js';
import { ErrorCodes, isAgentError } from '../errors.js';
import { Secrets } from '../shared/secrets.js';
import { filesystemSpace, openQueueReadOnly, type QueueStats } from '../queue/index.js';
import type { LiveStatus } from '../service/http-server.js';
import { ExitCodes, type CommandIo } from './process-io.js';
import { parseCommandArgs, stringOption } from './args.js';
import { modbusDeviceLines } from './modbus-status.js';
import { sparkplugLines } from './sparkplug-status.js';

const DEFAULT_CONFIG = '/etc/fluxion-edge/config.yaml';

const USAGE = `usage: fluxion-edge status [--config FILE] [--queue FILE] [--json]

Shows the agent's state: inputs, sender, send rate and last error from the running agent
(when its config has health.enabled: true), and the queue's depth, oldest unsent reading,
dead letters and drops from the queue file (read-only; works when the agent is stopped).

options:
  -c, --config FILE   the agent's config (default ${DEFAULT_CONFIG} when --queue is not given)
  --queue FILE        read this queue file (default: queue.path of the config)
  --json              one JSON object on stdout
  -h, --help          show this help

exit codes: 0 shown, 1 neither the agent nor the queue file could be read, 78 invalid config
`;

/** How long the running agent has to answer, in ms. */
const LIVE_TIMEOUT_MS = 2000;

export interface StatusReport {
  /** `running`: the agent answered; `unreachable`: health is on but nobody answered; `unknown`: health is off. */
  agent: 'running' | 'unreachable' | 'unknown';
  /** The endpoint asked, when health is on. */
  endpoint: string | null;
  live: LiveStatus | null;
  queue: { path: string; stats: QueueStats; disk: { freeBytes: number; totalBytes: number } | null } | null;
  /** Why a source could not be read. */
  notes: string[];
}

export async function run(args: string[], io: CommandIo): Promise<number> {
  const parsed = parseCommandArgs(args, {
    config: { type: 'string', short: 'c' },
    queue: { type: 'string' },
    json: { type: 'boolean' },
    help: { type: 'boolean', short: 'h' },
  });
  if (parsed.values.help === true) {
    io.stdout.write(USAGE);
    return ExitCodes.OK;
  }
  let queuePath = stringOption(parsed, 'queue');
  const configPath = stringOption(parsed, 'config') ?? (queuePath === undefined ? DEFAULT_CONFIG : undefined);
  let endpoint: string | null = null;
  let secrets = Secrets.none;
  let token: string | null = null;
  if (configPath !== undefined) {
    try {
      const { settings } = loadConfig(configPath, io.env);
      queuePath ??= settings.agent.queue.path;
      const server = settings.health.server;
      if (server !== null) endpoint = `http://${connectHost(server.host)}:${server.port}/status`;
      secrets = settings.secrets;
      token = settings.console?.token ?? null;
    } catch (err) {
      if (!isAgentError(err, ErrorCodes.CONFIG_INVALID)) throw err;
      io.stderr.write(`fluxion-edge: cannot read the config ${configPath}:\n${formatProblems(problemsOf(err))}\n(give --queue FILE to read the queue without it)\n`);
      return ExitCodes.CONFIG;
    }
  }

  const report: StatusReport = { agent: endpoint === null ? 'unknown' : 'unreachable', endpoint, live: null, queue: null, notes: [] };
  if (endpoint === null) {
    report.notes.push('live state unavailable: health.enabled is off in the config');
  } else {
    try {
      report.live = await fetchLive(endpoint, token);
      report.agent = 'running';
    } catch (err) {
      report.notes.push(`no answer from the agent at ${endpoint} (${(err as Error).message}): it is stopped, or still starting`);
    }
  }
  if (queuePath !== undefined) {
    try {
      const ro = openQueueReadOnly(queuePath);
      try {
        report.queue = { path: queuePath, stats: ro.stats(), disk: filesystemSpace(queuePath) };
      } finally {
        ro.close();
      }
    } catch (err) {
      if (!isAgentError(err)) throw err;
      report.notes.push(err.message);
    }
  }

  const text = parsed.values.json === true ? `${JSON.stringify(report, null, 2)}\n` : human(report, Date.now());
  io.stdout.write(secrets.scrub(text));
  return report.live === null && report.queue === null ? ExitCodes.FAILURE : ExitCodes.OK;
}

function connectHost(host: string): string {
  if (host === '0.0.0.0' || host === '') return '127.0.0.1';
  if (host === '::') return '[::1]';
  return host.includes(':') ? `[${host}]` : host;
}

/** `token`: the console's, which /status then requires. */
function fetchLive(url: string, token: string | null): Promise<LiveStatus> {
  return new Promise((resolve, reject) => {
    const headers = token === null ? {} : { Authorization: `Bearer ${token}` };
    const req = request(url, { timeout: LIVE_TIMEOUT_MS, headers }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (body += d));
      res.on('end', () => {
        if (res.statusCode !== 200) return reject(new Error(`HTTP ${res.statusCode}`));
        try {
          resolve(JSON.parse(body) as LiveStatus);
        } catch {
          reject(new Error('the answer is not JSON'));
        }
      });
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`timed out after ${LIVE_TIMEOUT_MS} ms`)));
    req.on('error', (err: NodeJS.ErrnoException) => reject(new Error(err.code ?? err.message)));
    req.end();
  });
}

/** The plain-text report (exported for tests). */
export function human(r: StatusReport, now: number): string {
  const out: string[] = [];
  const live = r.live;
  if (live !== null) {
    const head = `agent: running (gateway ${live.gateway ?? '?'}, pid ${live.pid}, up ${span(live.now - live.startedAt)})`;
    out.push(`${head}: ${live.health.healthy ? 'healthy' : 'UNHEALTHY'}`);
    for (const reason of live.health.reasons) out.push(`  - ${reason}`);
    out.push(...liveLines(live.status, live.sendRate, live.now));
  } else {
    out.push(r.agent === 'unknown' ? 'agent: state unknown (health endpoint off)' : 'agent: not running (no answer)');
  }
  const q = r.queue;
  if (q !== null) {
    const s = q.stats;
    out.push(`queue: ${q.path}`);
    const oldest = s.oldestUnsentEnqueuedAt === null ? '' : `, oldest queued ${span(now - s.oldestUnsentEnqueuedAt)} ago`;
    out.push(`  unsent        ${s.depth} (${bytes(s.bytes)}${onDisk(s.bytes, s.storedBytes)})${oldest}`);
    out.push(`  sent, kept    ${s.retainedRows} (${bytes(s.retainedBytes)}${onDisk(s.retainedBytes, s.retainedStoredBytes)})`);
    out.push(`  dead letters  ${s.deadLetterDepth} stored (${s.deadLettered} in all)${s.deadLetterDepth > 0 ? ': fluxion-edge dead-letter list' : ''}`);
    const drops = Object.entries(s.droppedByReason).filter(([, n]) => n > 0);
    out.push(`  dropped       ${drops.length === 0 ? 'none' : drops.map(([k, n]) => `${k} ${n}`).join(', ')}`);
    out.push(`  totals        ${s.appended} queued, ${s.sent} sent since the file was created`);
    const d = live?.status.disk;
    if (d !== undefined) out.push(`  disk          ${diskLine(d)}`);
    else if (q.disk !== null) out.push(`  disk          ${bytes(q.disk.freeBytes)} free of ${bytes(q.disk.totalBytes)}`);
  }
  for (const n of r.notes) out.push(`note: ${n}`);
  return `${out.join('\n')}\n`;
}

function liveLines(s: AgentStatus, rate: number, now: number): string[] {
  const out: string[] = [];
  out.push('inputs:');
  if (s.inputs.length === 0) out.push('  (none configured)');
  const width = Math.max(0, ...s.inputs.map((i) => i.name.length));
  for (const i of s.inputs) {
    const last = i.lastMessageAt === null ? 'no message yet' : `last message ${span(now - i.lastMessageAt)} ago`;
    out.push(`  ${i.name.padEnd(width)}  ${i.state.padEnd(12)} ${i.received} received, ${last}`);
    const polls = (i as { polls?: { sent: number; answered: number; timeouts: number; skipped: number } }).polls;
    if (polls !== undefined) {
      const missed = polls.timeouts > 0 ? ' (missed polls: the device did not answer in poll.response_timeout)' : '';
      out.push(`  ${''.padEnd(width)}  polls: ${polls.sent} sent, ${polls.answered} answered, ${polls.timeouts} timeouts, ${polls.skipped} skipped${missed}`);
    }
    if (i.lastError !== null) out.push(`  ${''.padEnd(width)}  last error ${span(now - i.lastError.at)} ago: ${i.lastError.message}`);
    out.push(...modbusDeviceLines(i, 0));
  }
  const snd = s.sender;
  const ack = snd.lastAckAt === null ? 'no ack yet' : `last ack ${span(now - snd.lastAckAt)} ago`;
  out.push(`sender: ${snd.state}, ${rate} records/s (last minute), ${snd.sentRecords} sent, ${ack}, ${snd.reconnects} reconnects`);
  if (snd.lastError !== null) out.push(`  last error ${span(now - snd.lastError.at)} ago: ${snd.lastError.code} ${snd.lastError.message}`);
  const w = snd.wire;
  if (w !== undefined) {
    const cap = w.maxBytesPerSecond > 0 ? `, cap ${bytes(w.maxBytesPerSecond)}/s` : '';
    out.push(`  on the wire: ${bytes(w.bytesLastHour)} last hour, ${bytes(w.bytesLastDay)} last day, ${w.bytesPerReading.toFixed(1)} B per reading${cap}`);
  }
  for (const r of s.report ?? []) {
    out.push(`report ${r.mode} [rule ${r.rule} ${r.source}]: ${r.readings} readings, ${r.sent} records sent, ${r.suppressed} not sent${r.late > 0 ? `, ${r.late} late` : ''}`);
  }
  const m = s.mapping;
  if (m !== null) {
    // Duplicates are redeliveries written again as they were; collisions are different readings in one tick.
    out.push(`mapping: ${m.records} records, ${m.duplicates} duplicates (redelivered, written again), ${m.collisions} collisions, ${m.badTimestamps} bad timestamps`);
  }
  const md = s.metadata;
  if (md !== undefined) {
    out.push(`metadata: ${md.state}, collection ${md.collection}: ${md.inSync} in sync, ${md.pending} pending, ${md.failed} failed${md.failed > 0 ? ' (fluxion-edge metadata status)' : ''}`);
  }
  if (s.sparkplug !== undefined) out.push(...sparkplugLines(s.sparkplug));
  return out;
}

function diskLine(d: NonNullable<AgentStatus['disk']>): string {
  const free = d.freeBytes === null || d.totalBytes === null ? 'free space unknown' : `${bytes(d.freeBytes)} free of ${bytes(d.totalBytes)}`;
  const parts = [free, `cap ${bytes(d.maxBytes)}`];
  if (d.full) parts.push('DISK FULL (disk_full): free space on this filesystem');
  else if (d.confined) parts.push('file confined to its size (the filesystem is full)');
  if (d.pendingAcks > 0) parts.push(`${d.pendingAcks} acks waiting in memory`);
  if (!d.reserveHeld && d.reserveBytes > 0 && (d.full || d.confined)) parts.push('reserve spent');
  return parts.join(', ');
}

/** "3h 2m", "5m 10s", "42s", "850ms". */
function span(ms: number): string {
  const v = Math.max(0, Math.round(ms));
  if (v < 1000) return `${v}ms`;
  const s = Math.floor(v / 1000);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m ${s % 60}s`;
  if (s < 86_400) return `${Math.floor(s / 3600)}h ${Math.floor((s % 3600) / 60)}m`;
  return `${Math.floor(s / 86_400)}d ${Math.floor((s % 86_400) / 3600)}h`;
}

/** ", X on disk" when compaction made the rows take less (or more) than their logical size: max_bytes counts the latter. */
function onDisk(logical: number, stored: number | undefined): string {
  return stored === undefined || stored === logical ? '' : `, ${bytes(stored)} on disk`;
}

function bytes(n: number): string {
  if (n < 1024) return `${n} B`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let v = n / 1024;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return `${v.toFixed(1)} ${units[u]}`;
}
