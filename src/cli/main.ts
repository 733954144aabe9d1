#!/usr/bin/env node
/**
 * Entry point of the `fluxion-edge` command: picks the subcommand and hands it a CommandIo.
 * Each subcommand lives in its own file and exports `run(args, io) => exit code`.
 */
import { runAsProcess, ExitCodes, type CommandIo } from './process-io.js';

type CommandModule = { run(args: string[], io: CommandIo): Promise<number> };

const commands: Record<string, { summary: string; load: () => Promise<CommandModule> }> = {
  run: { summary: 'run the agent with a config file (what the systemd unit starts)', load: () => import('./run-command.js') },
  'dev-server': { summary: 'run a FluxionDB-compatible server in memory (for tests and demos)', load: () => import('./dev-server-command.js') },
  db: { summary: 'talk to a FluxionDB server: collections, records, key/values, API keys', load: () => import('./db-command.js') },
  demo: { summary: 'run the whole pipeline on embedded defaults and print what lands', load: () => import('./demo-command.js') },
  check: { summary: 'validate a config file and print it resolved, secrets masked', load: () => import('./check-command.js') },
  map: { summary: 'show the records one message would produce with the configured rules', load: () => import('./map-command.js') },
  replay: { summary: 'send retained sent records again (after the server lost data)', load: () => import('./replay-command.js') },
  status: { summary: 'show the agent\'s inputs, sender, queue and dead letters (running or stopped)', load: () => import('./status-command.js') },
  metadata: { summary: 'show which device metadata is in sync, pending or failed; force a sync', load: () => import('./metadata-command.js') },
  'dead-letter': { summary: 'list, retry or purge what could not be delivered', load: () => import('./dead-letter-command.js') },
  modbus: { summary: 'read Modbus registers from the shell, or poll one configured device once', load: () => import('./modbus-command.js') },
};

export function usage(): string {
  const width = Math.max(...Object.keys(commands).map((c) => c.length));
  const lines = Object.entries(commands).map(([name, c]) => `  ${name.padEnd(width)}  ${c.summary}`);
  return `usage: fluxion-edge <command> [options]\n\ncommands:\n${lines.join('\n')}\n\nRun 'fluxion-edge <command> --help' for a command's options.\n`;
}

export async function main(argv: string[], io: CommandIo): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    io.stdout.write(usage());
    return name === undefined ? ExitCodes.USAGE : ExitCodes.OK;
  }
  if (name === '--version' || name === '-v') {
    const { version } = await import('../version.js');
    io.stdout.write(`${version}\n`);
    return ExitCodes.OK;
  }
  const command = commands[name];
  if (command === undefined) {
    io.stderr.write(`fluxion-edge: unknown command '${name}'\n\n${usage()}`);
    return ExitCodes.USAGE;
  }
  const mod = await command.load();
  return mod.run(rest, io);
}

void runAsProcess(main);
