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
    if (b.transport === 'rtu' && !('path' in b)) problems.push({ path: ['modbus', i, 'path'], message: 'is required for transport: rtu (the serial adapter, e.g. /dev/serial/by-id/usb-FTDI_...-if00-port0)' });
    if (b.transport === 'tcp' && !('host' in b)) problems.push({ path: ['modbus', i, 'host'], message: 'is required for transport: tcp (e.g. 10.0.0.15)' });
    if (Array.isArray(b.devices)) problems.push(...deviceChecks(b.devices, i, b.transport === 'rtu', metadataCol));
  });
  return problems;
}

/** Unit ids and names unique on a bus, register names unique on a device and apart from its tags. */
function deviceChecks(devices: unknown[], bus: number, rtu: boolean, metadataCol: string): RawProblem[] {
  const problems: RawProblem[] = [];
  const units = new Map<number, number>();
  const names = new Map<string, number>();
  devices.forEach((d: unknown, i) => {
    if (!isMap(d)) return;
    const at = (...rest: Array<string | number>): Array<string | number> => ['modbus', bus, 'devices', i, ...rest];
    if (d.collection === metadataCol) {
      problems.push({ path: at('collection'), message: `'${metadataCol}' is the metadata collection: deleting its last document would delete the metadata with it; give readings a collection of their own` });
    }
    if (typeof d.unit_id === 'number') {
      if (rtu && (d.unit_id < 1 || d.unit_id > 247)) problems.push({ path: at('unit_id'), message: 'must be 1-247 on an RTU bus (0 is broadcast, which never answers)' });
      const u = units.get(d.unit_id);
      if (u !== undefined) problems.push({ path: at('unit_id'), message: `is also the unit id of devices[${u}] (poll each device once; list all its registers there)` });
      else units.set(d.unit_id, i);
      const name = typeof d.name === 'string' ? d.name : `unit-${d.unit_id}`;
      const n = names.get(name);
      if (n !== undefined) problems.push({ path: at('name' in d ? 'name' : 'unit_id'), message: `device name '${name}' is also the name of devices[${n}]` });
      else names.set(name, i);
    }
    if (!Array.isArray(d.registers)) return;
    const regs = new Map<string, number>();
    const tags = isMap(d.tags) ? d.tags : {};
    d.registers.forEach((r: unknown, j) => {
      if (!isMap(r) || typeof r.name !== 'string') return;
      const k = regs.get(r.name);
      if (k !== undefined) problems.push({ path: at('registers', j, 'name'), message: `is also the name of registers[${k}]` });
      else regs.set(r.name, j);
      if (Object.hasOwn(tags, r.name)) problems.push({ path: at('tags', r.name), message: `is also a register's name (rename one)` });
    });
  });
  return problems;
}
