/**
 * The JSON Schema derived from the zod schema (for editors, the reference docs, and the
 * loader's own questions: which keys exist here, which types a value may have).
 */
import { z } from 'zod';
import { configSchema } from './schema/index.js';
import type { ConfigPath } from './problems.js';

export interface JsonSchemaNode {
  type?: string | string[];
  description?: string;
  default?: unknown;
  enum?: unknown[];
  const?: unknown;
  properties?: Record<string, JsonSchemaNode>;
  required?: string[];
  additionalProperties?: boolean | JsonSchemaNode;
  items?: JsonSchemaNode;
  anyOf?: JsonSchemaNode[];
  pattern?: string;
  minimum?: number;
  maximum?: number;
  minItems?: number;
  'x-kind'?: string;
  'x-secret'?: boolean;
  /** 'live': a reload applies this key (and all under it); absent: a change needs a restart. */
  'x-reload'?: 'live';
  [k: string]: unknown;
}

/** The config's JSON Schema (draft-07, which yaml-language-server and most editors understand). */
export function configJsonSchema(): JsonSchemaNode {
  return z.toJSONSchema(configSchema, { io: 'input', target: 'draft-7', unrepresentable: 'any' }) as JsonSchemaNode;
}

/** The schema nodes that describe the value at `path` (several when a union allows several shapes). */
export function schemaNodesAt(root: JsonSchemaNode, path: ConfigPath): JsonSchemaNode[] {
  let nodes = expand(root);
  for (const seg of path) {
    const next: JsonSchemaNode[] = [];
    for (const n of nodes) {
      if (typeof seg === 'number') {
        if (n.items !== undefined) next.push(...expand(n.items));
      } else if (n.properties?.[seg] !== undefined) {
        next.push(...expand(n.properties[seg]));
      } else if (typeof n.additionalProperties === 'object') {
        next.push(...expand(n.additionalProperties));
      }
    }
    nodes = next;
  }
  return nodes;
}

/** Keys an object at `path` may hold (empty when it is a free-form map). */
export function knownKeysAt(root: JsonSchemaNode, path: ConfigPath): string[] {
  return [...new Set(schemaNodesAt(root, path).flatMap((n) => Object.keys(n.properties ?? {})))];
}

/** JSON types the value at `path` may have ('integer', 'string', ...). */
export function typesAt(root: JsonSchemaNode, path: ConfigPath): Set<string> {
  const types = new Set<string>();
  for (const n of schemaNodesAt(root, path)) {
    if (Array.isArray(n.type)) n.type.forEach((t) => types.add(t));
    else if (n.type !== undefined) types.add(n.type);
    else if (n.const !== undefined) types.add(typeof n.const === 'number' ? 'integer' : typeof n.const);
  }
  return types;
}

function expand(n: JsonSchemaNode): JsonSchemaNode[] {
  return n.anyOf !== undefined ? [n, ...n.anyOf.flatMap(expand)] : [n];
}

/** A copy of `value` with each map's keys in the schema's order (derived defaults land where they are documented). */
export function orderLike<T>(root: JsonSchemaNode, value: T): T {
  const walk = (v: unknown, path: Array<string | number>): unknown => {
    if (Array.isArray(v)) return v.map((x, i) => walk(x, [...path, i]));
    if (v === null || typeof v !== 'object') return v;
    const known = knownKeysAt(root, path);
    const obj = v as Record<string, unknown>;
    const keys = [...known.filter((k) => k in obj), ...Object.keys(obj).filter((k) => !known.includes(k))];
    return Object.fromEntries(keys.map((k) => [k, walk(obj[k], [...path, k])]));
  };
  return walk(value, []) as T;
}
