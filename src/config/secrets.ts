/**
 * Secrets come from a file (preferred: readable only by the service user) or from the
 * environment, never from a command line that `ps` shows to everyone. This module is the
 * only one that reads them, and it never puts their values in an error.
 */
import { readFileSync, statSync } from 'node:fs';
import { AgentError, ErrorCodes } from '../errors.js';

/** Reads a secret file: trailing newlines are stripped, an empty file is an error. */
export function readSecretFile(path: string, what: string): string {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new AgentError(ErrorCodes.CONFIG_FILE, `cannot read ${what} file ${path}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`, { cause: err });
  }
  const value = text.replace(/[\r\n]+$/, '');
  if (value.length === 0) throw new AgentError(ErrorCodes.CONFIG_FILE, `${what} file ${path} is empty`);
  return value;
}

/** True when a file can be read by users other than its owner and group (mode o+r). */
export function isWorldReadable(path: string): boolean {
  try {
    return (statSync(path).mode & 0o004) !== 0;
  } catch {
    return false;
  }
}

/**
 * The API key for command-line tools: `--api-key-file` first, then `--api-key`, then the
 * environment variable `FLUXION_API_KEY`.
 */
export function resolveApiKey(
  opts: { apiKey?: string | undefined; apiKeyFile?: string | undefined },
  env: Readonly<Record<string, string | undefined>>,
): string {
  if (opts.apiKeyFile !== undefined) return readSecretFile(opts.apiKeyFile, 'API key');
  if (opts.apiKey !== undefined && opts.apiKey !== '') return opts.apiKey;
  const fromEnv = env.FLUXION_API_KEY;
  if (fromEnv !== undefined && fromEnv !== '') return fromEnv;
  throw new AgentError(ErrorCodes.USAGE, 'no API key: pass --api-key-file FILE, --api-key KEY, or set FLUXION_API_KEY');
}

/**
 * Reads a PEM file (CA bundle, certificate or private key) into a string, so that TLS
 * settings are checked when the config loads rather than when the first connection opens.
 */
export function readPemFile(path: string, what: string): string {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new AgentError(ErrorCodes.CONFIG_FILE, `cannot read ${what} file ${path}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`, { cause: err });
  }
  if (!text.includes('-----BEGIN ')) throw new AgentError(ErrorCodes.CONFIG_FILE, `${what} file ${path} is not PEM (no "-----BEGIN" line)`);
  return text;
}
