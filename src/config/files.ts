/**
 * Reads what the config names by path: secrets (through secrets.ts) and TLS PEM files.
 * A file that cannot be read is a problem at the key that names it; a secret file other
 * users can read is a warning.
 */
import { isAbsolute, resolve } from 'node:path';
import { isAgentError } from '../errors.js';
import { isWorldReadable, readPemFile, readSecretFile } from './secrets.js';
import type { RawProblem } from './zod-issues.js';

export interface PemFiles {
  ca?: string;
  cert?: string;
  key?: string;
}

export interface FileContents {
  apiKey?: string;
  mqttPassword?: string;
  /** The web console's access token (`console.token_file`). */
  consoleToken?: string;
  fluxiondbTls: PemFiles;
  mqttTls: PemFiles;
}

/** Shortest console token accepted: a guessable token on a plant network is no protection. */
const CONSOLE_TOKEN_MIN = 16;

/** The key that names each file (all restart-only: a reload reports a file whose contents changed). */
export const FILE_KEYS: Readonly<Record<keyof FileContents, string>> = {
  apiKey: 'fluxiondb.api_key_file',
  mqttPassword: 'mqtt.password_file',
  consoleToken: 'console.token_file',
  fluxiondbTls: 'fluxiondb.tls',
  mqttTls: 'mqtt.tls',
};

export function absolutePath(baseDir: string, p: string): string {
  return isAbsolute(p) ? p : resolve(baseDir, p);
}

/** Reads every file the (substituted) tree names; values that are not strings are left to the schema. */
export function readConfigFiles(tree: Record<string, unknown>, baseDir: string): { files: FileContents; problems: RawProblem[]; warnings: RawProblem[] } {
  const problems: RawProblem[] = [];
  const warnings: RawProblem[] = [];
  const files: FileContents = { fluxiondbTls: {}, mqttTls: {} };

  const read = (path: string[], what: string, reader: (p: string, w: string) => string, secret: boolean): string | undefined => {
    const section = tree[path[0]!];
    let v: unknown = section;
    for (const seg of path.slice(1)) v = v !== null && typeof v === 'object' ? (v as Record<string, unknown>)[seg] : undefined;
    if (typeof v !== 'string' || v === '') return undefined;
    const file = absolutePath(baseDir, v);
    try {
      const text = reader(file, what);
      if (secret && isWorldReadable(file)) {
        warnings.push({ path, message: `${what} file ${file} is readable by other users: chmod 600 it (or 640 with the service group)` });
      }
      return text;
    } catch (err) {
      if (!isAgentError(err)) throw err;
      problems.push({ path, message: err.message });
      return undefined;
    }
  };

  files.apiKey = read(['fluxiondb', 'api_key_file'], 'API key', readSecretFile, true);
  files.mqttPassword = read(['mqtt', 'password_file'], 'MQTT password', readSecretFile, true);
  files.consoleToken = read(['console', 'token_file'], 'console token', readSecretFile, true);
  if (files.consoleToken !== undefined && files.consoleToken.trim().length < CONSOLE_TOKEN_MIN) {
    problems.push({ path: ['console', 'token_file'], message: `the console token must be at least ${CONSOLE_TOKEN_MIN} characters (e.g. \`openssl rand -hex 24 > FILE\`)` });
    files.consoleToken = undefined;
  }
  for (const [section, out, peer] of [['fluxiondb', files.fluxiondbTls, 'FluxionDB'], ['mqtt', files.mqttTls, 'MQTT']] as const) {
    const ca = read([section, 'tls', 'ca_file'], `${peer} CA`, readPemFile, false);
    const cert = read([section, 'tls', 'cert_file'], `${peer} client certificate`, readPemFile, false);
    const key = read([section, 'tls', 'key_file'], `${peer} client key`, readPemFile, true);
    if (ca !== undefined) out.ca = ca;
    if (cert !== undefined) out.cert = cert;
    if (key !== undefined) out.key = key;
  }
  return { files, problems, warnings };
}
