import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { AgentSettings } from '../../src/agent.js';

const FIXTURE = fileURLToPath(new URL('../fixtures/agent-process.mjs', import.meta.url));

export interface AgentProcess {
  child: ChildProcess;
  /** The last status line the child printed. */
  last(): { depth: number; sent: number; state: string } | null;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  stderr(): string;
}

/** Starts the queue + sender in a child process (built code, as in production). */
export function startAgentProcess(settings: AgentSettings): AgentProcess {
  const child = spawn(process.execPath, [FIXTURE], {
    env: { ...process.env, AGENT_SETTINGS: JSON.stringify(settings) },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let last: { depth: number; sent: number; state: string } | null = null;
  let buf = '';
  let err = '';
  child.stdout!.setEncoding('utf8').on('data', (d: string) => {
    buf += d;
    const lines = buf.split('\n');
    buf = lines.pop()!;
    for (const l of lines) if (l.trim() !== '') last = JSON.parse(l) as typeof last;
  });
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (err += d));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((r) => child.on('exit', (code, signal) => r({ code, signal })));
  return { child, last: () => last, exited, stderr: () => err };
}
