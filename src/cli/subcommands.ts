import { ExitCodes, type CommandIo } from './process-io.js';

/**
 * Picks the subcommand of a command with several (`db`, `dead-letter`): prints the usage
 * for no argument or --help, refuses an unknown name; otherwise returns the entry.
 * A number is the exit code to return at once.
 */
export function pickSubcommand<T>(
  args: string[],
  table: Readonly<Record<string, T>>,
  command: string,
  usage: string,
  io: CommandIo,
): { name: string; entry: T; rest: string[] } | number {
  const [name, ...rest] = args;
  if (name === undefined || name === '--help' || name === '-h') {
    io.stdout.write(usage);
    return name === undefined ? ExitCodes.USAGE : ExitCodes.OK;
  }
  const entry = Object.hasOwn(table, name) ? table[name] : undefined;
  if (entry === undefined) {
    io.stderr.write(`fluxion-edge ${command}: unknown command '${name}'\n\n${usage}`);
    return ExitCodes.USAGE;
  }
  return { name, entry, rest };
}
