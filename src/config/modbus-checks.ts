/**
 * Checks of the `modbus:` section against the rest of the file: a serial port is either a
 * line-based serial input or a Modbus bus, never both (two readers of one port each get
 * half the bytes); bus names and RTU adapters are unique; readings stay out of the
 * metadata collection.
 */
import type { RawProblem } from './zod-issues.js';

function isMap(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

export function modbusChecks(raw: Record<string, unknown>): RawProblem[] {
  const problems: RawProblem[] = [];
  const buses = raw.modbus;
  if (!Array.isArray(buses)) return problems;
  const serialPaths = new Map<string, number>();
  if (Array.isArray(raw.serial)) raw.serial.forEach((p: unknown, i) => isMap(p) && typeof p.path === 'string' && serialPaths.set(p.path, i));
  const names = new Map<string, number>();
  const paths = new Map<string, number>();
  const metadataCol = isMap(raw.metadata) && typeof raw.metadata.collection === 'string' ? raw.metadata.collection : 'metadata';
  buses.forEach((b: unknown, i) => {
    if (!isMap(b)) return;
    if (typeof b.name === 'string') {
      const same = names.get(b.name);
      if (same !== undefined) problems.push({ path: ['modbus', i, 'name'], message: `'${b.name}' is also the name of modbus[${same}] (bus names must be unique)` });
      else names.set(b.name, i);
    }
    if (typeof b.path === 'string') {
      const serial = serialPaths.get(b.path);
      if (serial !== undefined) {
        problems.push({ path: ['modbus', i, 'path'], message: `serial[${serial}] reads the same port: a port is either a serial input or a Modbus bus, not both` });
      }
      const same = paths.get(b.path);
      if (same !== undefined) problems.push({ path: ['modbus', i, 'path'], message: `modbus[${same}] uses the same adapter (put all its devices on one bus)` });
      else paths.set(b.path, i);
    }
    if (Array.isArray(b.devices)) {
      b.devices.forEach((d: unknown, j) => {
        if (isMap(d) && d.collection === metadataCol) {
          problems.push({ path: ['modbus', i, 'devices', j, 'collection'], message: `'${metadataCol}' is the metadata collection: deleting its last document would delete the metadata with it; give readings a collection of their own` });
        }
      });
    }
  });
  return problems;
}
