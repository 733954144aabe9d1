/**
 * Argument parsing shared by every command: node's parseArgs, strict, with usage errors
 * that carry a stable code so that main() can print them and exit 64.
 */
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { AgentError, ErrorCodes } from '../errors.js';

export type OptionSpec = NonNullable<ParseArgsConfig['options']>;

export interface ParsedArgs {
  values: Record<string, string | boolean | string[] | boolean[] | undefined>;
  positionals: string[];
}

export function parseCommandArgs(args: string[], options: OptionSpec, allowPositionals = false): ParsedArgs {
  try {
    const parsed = parseArgs({ args, options, allowPositionals, strict: true });
    return { values: parsed.values as ParsedArgs['values'], positionals: parsed.positionals };
  } catch (err) {
    throw new AgentError(ErrorCodes.USAGE, err instanceof Error ? err.message : String(err), { cause: err });
  }
}

/** Reads a string option, or throws a usage error naming it when it is required and missing. */
export function stringOption(parsed: ParsedArgs, name: string, required: true): string;
export function stringOption(parsed: ParsedArgs, name: string, required?: false): string | undefined;
export function stringOption(parsed: ParsedArgs, name: string, required = false): string | undefined {
  const v = parsed.values[name];
  if (typeof v === 'string') return v;
  if (required) throw new AgentError(ErrorCodes.USAGE, `missing required option --${name}`);
  return undefined;
}

/** Reads an integer option; `label` says what it is in the error. */
export function intOption(parsed: ParsedArgs, name: string, fallback?: number): number | undefined {
  const v = parsed.values[name];
  if (v === undefined) return fallback;
  if (typeof v !== 'string' || !/^-?\d+$/.test(v)) {
    throw new AgentError(ErrorCodes.USAGE, `--${name} must be an integer, got '${String(v)}'`);
  }
  return Number(v);
}
