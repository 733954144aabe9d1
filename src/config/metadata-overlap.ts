/**
 * A metadata key set both in `metadata.devices` and by a `kind: metadata` rule. The config
 * wins (MetadataSync ignores the device's report of such a key), so the rule's value for it
 * is never stored: worth a warning, since one of the two is then pointless. Checked where
 * it can be known before any message: the rule's device is a literal, `{port}` of a serial
 * rule, or a template whose placeholders could produce the static device's name; its field
 * names are `fields`, `tags`, or the named groups / header of a regex or csv format.
 */
import type { RawProblem } from './zod-issues.js';
import { serialPortName } from './schema/serial.js';
import type { EdgeConfig } from './types.js';

interface MetadataRule {
  where: Array<string | number>;
  document: string;
  port: string | null;
  fields: string[] | null;
}

export function metadataOverlapWarnings(config: EdgeConfig): RawProblem[] {
  const devices = config.metadata?.devices ?? {};
  if (Object.keys(devices).length === 0) return [];
  const rules: MetadataRule[] = [];
  config.mqtt?.subscriptions.forEach((r, i) => {
    if (r.kind === 'metadata') rules.push({ where: ['mqtt', 'subscriptions', i], document: r.document ?? '', port: null, fields: fieldNames(r) });
  });
  config.serial?.forEach((p, i) =>
    p.rules.forEach((r, j) => {
      if (r.kind === 'metadata') rules.push({ where: ['serial', i, 'rules', j], document: r.document, port: serialPortName(p), fields: fieldNames(r) });
    }),
  );
  const warnings: RawProblem[] = [];
  for (const [device, fields] of Object.entries(devices)) {
    for (const field of Object.keys(fields as Record<string, unknown>)) {
      // A rule keeping every payload field may or may not send this one: only named fields are certain enough.
      const certain = rules.filter((r) => r.fields !== null && r.fields.includes(field) && couldName(r, device));
      if (certain.length === 0) continue;
      const names = certain.map((r) => r.where.map((s, k) => (typeof s === 'number' ? `[${s}]` : k === 0 ? s : `.${s}`)).join(''));
      warnings.push({
        path: ['metadata', 'devices', device, field],
        message: `is also set by the kind: metadata rule ${names.join(', ')}: the value in the config wins and the device's report of it is ignored (remove one of the two)`,
      });
    }
  }
  return warnings;
}

/** Field names a metadata rule produces, when known from the config alone; null when any payload field may be. */
function fieldNames(r: { fields?: Readonly<Record<string, string>> | undefined; tags?: Readonly<Record<string, string>> | undefined; format?: string; regex?: string | undefined; csv?: { readonly header: readonly string[] } | undefined }): string[] | null {
  const tags = Object.keys(r.tags ?? {});
  if (r.fields !== undefined) return [...Object.keys(r.fields), ...tags];
  if (r.format === 'regex' && r.regex !== undefined) return [...[...r.regex.matchAll(/\(\?<([A-Za-z_$][\w$]*)>/g)].map((m) => m[1]!), ...tags];
  if (r.format === 'csv' && r.csv !== undefined) return [...r.csv.header, ...tags];
  if (r.format === 'value') return ['value', ...tags];
  return null;
}

/** Could the rule's document template render to `device`? */
function couldName(r: MetadataRule, device: string): boolean {
  const doc = r.port !== null ? r.document.replaceAll('{port}', r.port) : r.document;
  const parts = doc.split(/\{[^}]*\}/);
  if (parts.length === 1) return doc === device;
  const pattern = parts.map((p) => p.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('.+');
  return new RegExp(`^${pattern}$`).test(device);
}
