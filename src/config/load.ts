/**
 * Loads the config: YAML (positions kept), `${VAR}` substitution, validation against the
 * schema, cross-field checks, the mapping rules' own checks, secret and TLS files. Every
 * problem found is reported at once, each with its key path and YAML line:column; then
 * the loader throws EDGE_ERR_CONFIG_INVALID. Only this module reads files and the
 * environment, and only what it is given (`env`), never `process.env` itself.
 */
import { readFileSync, statSync } from 'node:fs';
import type { z } from 'zod';
import { hostname as osHostname } from 'node:os';
import { dirname, resolve } from 'node:path';
import { metadataOverlapWarnings } from './metadata-overlap.js';
import { serialRuleProblems, subscriptionProblems } from './rules-problems.js';
import { consoleChecks, metadataCollectionChecks, numericChecks, presenceChecks, serialChecks, type ValidAt } from './cross-checks.js';
import { modbusChecks } from './modbus-checks.js';
import type { Env } from './env-substitution.js';
import { substituteEnv } from './env-substitution.js';
import { absolutePath, readConfigFiles } from './files.js';
import { configJsonSchema, orderLike, typesAt } from './json-schema.js';
import { configInvalid, pathToString, type ConfigProblem } from './problems.js';
import { configSchema, type ParsedConfig } from './schema/index.js';
import { buildSettings } from './settings.js';
import type { EdgeConfig, LoadedConfig } from './types.js';
import { parseYaml, type YamlSource } from './yaml-source.js';
import { configErrorMap, issuesToProblems, type RawProblem } from './zod-issues.js';

export interface ParseConfigOptions {
  /** Variables for `${VAR}` substitution. */
  env: Env;
  /** Directory that relative paths (secret files, TLS files, queue.path) are resolved against. Default: the working directory. */
  baseDir?: string;
  /** Name of the file in problem lines. Default `config.yaml`. */
  file?: string;
  /** Default of gateway.id. Default: the machine's hostname. */
  hostname?: string;
  /** The config file can be read by other users: warn for each secret written in it. */
  worldReadable?: boolean;
}

/** Reads, validates and resolves a config file; throws EDGE_ERR_CONFIG_INVALID listing every problem. */
export function loadConfig(path: string, env: Env, options: { hostname?: string } = {}): LoadedConfig {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? String(err);
    throw configInvalid([{ path: '', file: path, message: `cannot read the config file: ${code}` }]);
  }
  let worldReadable = false;
  try {
    worldReadable = (statSync(path).mode & 0o004) !== 0;
  } catch {
    // Read a moment ago; a stat failure here only loses a warning.
  }
  return parseConfig(text, { env, baseDir: dirname(resolve(path)), file: path, worldReadable, ...options });
}

/** Validates and resolves config text (what loadConfig does after reading the file). */
export function parseConfig(text: string, options: ParseConfigOptions): LoadedConfig {
  const file = options.file ?? 'config.yaml';
  const baseDir = resolve(options.baseDir ?? '.');
  const source = parseYaml(text);
  if ('problems' in source) throw configInvalid(source.problems.map((p) => ({ ...p, file })));
  const raw = source.tree ?? {};
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
    throw configInvalid([{ path: '', file, message: 'must be a map of sections (fluxiondb:, queue:, mqtt:, ...)', line: 1, column: 1 }]);
  }
  const rawTree = raw as Record<string, unknown>;

  const jsonSchema = configJsonSchema();
  const sub = substituteEnv(rawTree, options.env, (p) => typesAt(jsonSchema, p));
  const tree = sub.tree as Record<string, unknown>;
  const parsed = configSchema.safeParse(tree, { error: configErrorMap });
  const schemaProblems = parsed.success ? [] : issuesToProblems(parsed.error.issues, tree, jsonSchema);
  const rulesProblems = [...subscriptionProblems(tree), ...serialRuleProblems(tree)];

  const files = readConfigFiles(tree, baseDir);
  const problems = dedupe([
    ...sub.problems,
    ...schemaProblems,
    ...presenceChecks(rawTree),
    ...serialChecks(rawTree),
    ...modbusChecks(rawTree),
    ...numericChecks(validAt(tree)),
    ...consoleChecks(validAt(tree), rawTree),
    ...metadataCollectionChecks(validAt(tree), tree),
    ...rulesProblems,
    ...files.problems,
  ]);
  if (problems.length > 0 || !parsed.success) throw configInvalid(sorted(problems.map((p) => locate(p, source, file))));

  const config = orderLike(jsonSchema, resolveConfig(parsed.data, baseDir, options.hostname ?? osHostname()));
  const settings = buildSettings(config, files.files);
  const warnings = [...files.warnings, ...riskWarnings(rawTree, config, options.worldReadable === true)];
  return deepFreeze({ config: deepFreeze(config), settings: deepFreeze(settings), warnings: sorted(warnings.map((w) => locate(w, source, file))), files: files.files });
}

/**
 * Values parsed by their own part of the schema, so that relations between them are
 * checked even when something elsewhere in the file is wrong.
 */
function validAt(tree: Record<string, unknown>): ValidAt {
  return (path) => {
    let schema: unknown = configSchema;
    let value: unknown = tree;
    for (const key of path) {
      schema = unwrap(schema);
      const shape = (schema as { shape?: Record<string, unknown> }).shape;
      if (shape?.[key] === undefined) return undefined;
      schema = shape[key];
      value = value !== null && typeof value === 'object' ? (value as Record<string, unknown>)[key] : undefined;
    }
    const result = (schema as z.ZodType).safeParse(value);
    return result.success ? result.data : undefined;
  };
}

/** Looks through optional/default/prefault wrappers to the object schema inside. */
function unwrap(schema: unknown): unknown {
  let s = schema as { _zod: { def: { type: string; innerType?: unknown } } };
  while (s._zod.def.innerType !== undefined && ['optional', 'default', 'prefault', 'nullable'].includes(s._zod.def.type)) {
    s = s._zod.def.innerType as typeof s;
  }
  return s;
}

/** Fills in the defaults that depend on other values and makes file paths absolute. */
function resolveConfig(p: ParsedConfig, baseDir: string, hostname: string): EdgeConfig {
  const id = p.gateway.id ?? hostname;
  const abs = (v: string | undefined): string | undefined => (v === undefined ? undefined : absolutePath(baseDir, v));
  const tls = <T extends { ca_file?: string; cert_file?: string; key_file?: string }>(t: T | undefined): T | undefined =>
    t === undefined ? undefined : stripUndefined({ ...t, ca_file: abs(t.ca_file), cert_file: abs(t.cert_file), key_file: abs(t.key_file) });
  const config = {
    ...p,
    gateway: { ...p.gateway, id },
    fluxiondb: stripUndefined({
      ...p.fluxiondb,
      api_key_file: abs(p.fluxiondb.api_key_file),
      connection_name: p.fluxiondb.connection_name ?? `fluxion-edge-${id}`,
      tls: tls(p.fluxiondb.tls),
    }),
    queue: {
      ...p.queue,
      path: absolutePath(baseDir, p.queue.path),
      // With max_bytes: auto the queue sizes this at start (25 % of the cap it chose).
      ...(p.queue.max_bytes !== 'auto' ? { retain_sent_bytes: p.queue.retain_sent_bytes ?? Math.floor(p.queue.max_bytes / 4) } : {}),
    },
  };
  const m = p.mqtt;
  if (m === undefined) return config as EdgeConfig;
  const broker = m.embedded_broker;
  const brokerHost = broker === undefined || broker.host === '0.0.0.0' || broker.host === '::' ? '127.0.0.1' : broker.host;
  const url = m.url ?? `mqtt://${brokerHost.includes(':') ? `[${brokerHost}]` : brokerHost}:${broker!.port}`;
  return {
    ...config,
    mqtt: stripUndefined({ ...m, url, client_id: m.client_id ?? `fluxion-edge-${id}`, password_file: abs(m.password_file), tls: tls(m.tls) }),
  } as EdgeConfig;
}

function riskWarnings(raw: Record<string, unknown>, config: EdgeConfig, worldReadable: boolean): RawProblem[] {
  const warnings: RawProblem[] = [];
  if (worldReadable) {
    for (const [section, key] of [['fluxiondb', 'api_key'], ['mqtt', 'password']] as const) {
      const v = (raw[section] as Record<string, unknown> | undefined)?.[key];
      // `${VAR}` alone keeps the secret out of the file; anything else is written in it.
      if (typeof v === 'string' && v.replace(/\$\{[^}]*\}/g, '') !== '') {
        warnings.push({ path: [section, key], message: `the config file is readable by other users and holds this secret: chmod 640 the file, or use ${key}_file or \${ENV_VAR}` });
      }
    }
  }
  if (config.mqtt?.clean === true) {
    warnings.push({ path: ['mqtt', 'clean'], message: 'clean: true turns the persistent session off: messages published while the agent is down or reconnecting are lost' });
  }
  warnings.push(...metadataOverlapWarnings(config));
  if (config.queue.synchronous === 'off') {
    warnings.push({ path: ['queue', 'synchronous'], message: 'synchronous: off never fsyncs: a power loss can lose readings and corrupt the queue file (use full, or normal)' });
  }
  return warnings;
}

function locate(p: RawProblem, source: YamlSource, file: string): ConfigProblem {
  const pos = source.locate(p.path, p.at);
  return { path: pathToString(p.path), message: p.message, file, ...(pos ?? {}) };
}

/** One problem per path: the first found (an unset variable explains the missing value after it). */
function dedupe(problems: RawProblem[]): RawProblem[] {
  const seen = new Set<string>();
  return problems.filter((p) => {
    const key = pathToString(p.path);
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

function sorted<T extends ConfigProblem>(list: T[]): T[] {
  return list
    .map((p, i) => ({ p, i }))
    .sort((a, b) => (a.p.line ?? Infinity) - (b.p.line ?? Infinity) || (a.p.column ?? 0) - (b.p.column ?? 0) || a.i - b.i)
    .map((x) => x.p);
}

function stripUndefined<T extends object>(o: T): T {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as T;
}

function deepFreeze<T>(v: T): T {
  if (v !== null && typeof v === 'object' && !Object.isFrozen(v)) {
    Object.freeze(v);
    for (const child of Object.values(v)) deepFreeze(child);
  }
  return v;
}
