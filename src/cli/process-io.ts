/**
 * The only place that touches `process`: streams, environment, exit codes and signals.
 * Commands receive a `CommandIo` so that they can be run (and tested) without a process.
 */
import { once } from 'node:events';

/** Exit codes, documented in the README. */
export const ExitCodes = {
  OK: 0,
  /** Fatal runtime error. */
  FAILURE: 1,
  /** Command-line usage error (sysexits EX_USAGE). */
  USAGE: 64,
  /** Invalid configuration (sysexits EX_CONFIG). */
  CONFIG: 78,
} as const;

export interface CommandIo {
  stdout: NodeJS.WritableStream & { isTTY?: boolean };
  stderr: NodeJS.WritableStream & { isTTY?: boolean };
  stdin: NodeJS.ReadableStream & { isTTY?: boolean };
  env: Readonly<Record<string, string | undefined>>;
  /** Resolves on the first SIGINT or SIGTERM; the process keeps running until the command returns. */
  shutdownSignal(): Promise<NodeJS.Signals>;
  /** Calls `handler` on every SIGHUP until the returned function is called. */
  onReload(handler: () => void): () => void;
}

export function processIo(): CommandIo {
  return {
    stdout: process.stdout,
    stderr: process.stderr,
    stdin: process.stdin,
    env: process.env,
    shutdownSignal: () =>
      new Promise<NodeJS.Signals>((resolve) => {
        const onSignal = (sig: NodeJS.Signals): void => {
          process.off('SIGINT', onSignal);
          process.off('SIGTERM', onSignal);
          resolve(sig);
        };
        process.on('SIGINT', onSignal);
        process.on('SIGTERM', onSignal);
      }),
    onReload: (handler) => {
      process.on('SIGHUP', handler);
      return () => process.off('SIGHUP', handler);
    },
  };
}

/** Runs a command to completion and sets the exit code; never calls process.exit while output is pending. */
export async function runAsProcess(command: (argv: string[], io: CommandIo) => Promise<number>): Promise<void> {
  const io = processIo();
  let code: number;
  try {
    code = await command(process.argv.slice(2), io);
  } catch (err) {
    io.stderr.write(`fluxion-edge: ${err instanceof Error ? err.message : String(err)}\n`);
    code = ExitCodes.FAILURE;
  }
  process.exitCode = code;
  // Lingering handles (a half-closed socket, a timer a library forgot) must not keep a
  // finished command alive: give stdout a moment to flush, then leave.
  const timer = setTimeout(() => process.exit(code), 2000);
  timer.unref();
  if (process.stdout.writableNeedDrain) await once(process.stdout, 'drain');
}
