/**
 * docs/configuration.md documents every key of the schema: each section's table has rows,
 * every key (entries of lists such as `serial[]` and their `rules[]` included) has its row,
 * and every row is one line (a raw newline in a default would break the table).
 */
import { describe, expect, it } from 'vitest';
import { configJsonSchema, type JsonSchemaNode } from '../../../src/config/json-schema.js';
import { renderReference } from '../../../src/config/reference.js';

function objectOf(node: JsonSchemaNode): JsonSchemaNode | undefined {
  if (node.type === 'object' && node.properties !== undefined) return node;
  return node.anyOf?.find((n) => n.type === 'object' && n.properties !== undefined);
}

/** Every key path of the schema, as the reference names it. */
function keyPaths(prefix: string, node: JsonSchemaNode): string[] {
  const items = node.type === 'array' && node.items !== undefined ? objectOf(node.items) : undefined;
  if (items !== undefined) return keyPaths(`${prefix}[]`, items);
  const obj = objectOf(node);
  if (obj !== undefined) return Object.entries(obj.properties!).flatMap(([k, child]) => [`${prefix}.${k}`, ...keyPaths(`${prefix}.${k}`, child)]);
  const values = node.type === 'object' && typeof node.additionalProperties === 'object' ? objectOf(node.additionalProperties) : undefined;
  return values !== undefined ? keyPaths(`${prefix}.<name>`, values) : [];
}

describe('docs/configuration.md covers the whole schema', () => {
  const doc = renderReference();
  const root = configJsonSchema();
  const sections = Object.entries(root.properties ?? {});

  it('has a table with rows for every section', () => {
    expect(sections.length).toBeGreaterThan(5);
    for (const [section] of sections) {
      const body = doc.slice(doc.indexOf(`## \`${section}\``)).split('\n## ')[0]!;
      const rows = body.split('\n').filter((l) => l.startsWith('| `'));
      expect({ section, rows: rows.length > 0 }).toEqual({ section, rows: true });
    }
  });

  it('has a row for every key, serial ports and their rules included', () => {
    const documented = new Set([...doc.matchAll(/^\| `([^`]+)` \|/gm)].map((m) => m[1]));
    const paths = sections.flatMap(([section, node]) => keyPaths(section, node));
    expect(paths).toContain('serial[].baud');
    expect(paths).toContain('serial[].rules[].match.nmea_type');
    expect(paths.filter((p) => !documented.has(p))).toEqual([]);
  });

  it('keeps every table row on one line', () => {
    const lines = doc.split('\n');
    lines.forEach((l, i) => {
      if (l.startsWith('| ')) expect({ line: i + 1, ends: l.endsWith(' |') }).toEqual({ line: i + 1, ends: true });
      if (i > 0 && lines[i - 1]!.startsWith('| ') && l !== '') expect({ line: i + 1, text: l.startsWith('|') }).toEqual({ line: i + 1, text: true });
    });
  });
});
