/**
 * What a reload (SIGHUP) can apply, derived from the schema's marks (schema/reload.ts): a
 * changed key that is not marked live, nor under a key marked live, needs a restart.
 */
import { isDeepStrictEqual } from 'node:util';
import { FILE_KEYS, type FileContents } from './files.js';
import { configJsonSchema, type JsonSchemaNode } from './json-schema.js';
import type { LoadedConfig } from './types.js';

/** The config paths (`fluxiondb.url`, `serial[0].baud`) whose change only a restart applies. */
export function changesNeedingRestart(before: Pick<LoadedConfig, 'config' | 'files'>, after: Pick<LoadedConfig, 'config' | 'files'>): string[] {
  const out: string[] = [];
  walk(configJsonSchema(), before.config, after.config, '', out);
  for (const k of Object.keys(FILE_KEYS) as Array<keyof FileContents>) {
    if (!isDeepStrictEqual(before.files[k], after.files[k])) out.push(`${FILE_KEYS[k]} (contents)`);
  }
  return [...new Set(out)];
}

/** True when the schema marks this node live on reload. */
export function isLiveOnReload(node: JsonSchemaNode): boolean {
  return node['x-reload'] === 'live' || (node.anyOf ?? []).some((n) => n['x-reload'] === 'live');
}

function walk(node: JsonSchemaNode, a: unknown, b: unknown, path: string, out: string[]): void {
  if (isLiveOnReload(node) || isDeepStrictEqual(a, b)) return;
  const obj = shape(node, 'object');
  if (obj?.properties !== undefined && isMap(a) && isMap(b)) {
    for (const k of new Set([...Object.keys(a), ...Object.keys(b)])) {
      const child = obj.properties[k];
      const at = path === '' ? k : `${path}.${k}`;
      // A key the schema does not know (a derived default): restart, to be safe.
      if (child === undefined) out.push(at);
      else walk(child, a[k], b[k], at, out);
    }
    return;
  }
  const arr = shape(node, 'array');
  if (arr?.items !== undefined && Array.isArray(a) && Array.isArray(b) && a.length === b.length) {
    a.forEach((x, i) => walk(arr.items!, x, b[i], `${path}[${i}]`, out));
    return;
  }
  out.push(path);
}

function shape(node: JsonSchemaNode, type: 'object' | 'array'): JsonSchemaNode | undefined {
  if (node.type === type) return node;
  return node.anyOf?.find((n) => n.type === type);
}

function isMap(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}
