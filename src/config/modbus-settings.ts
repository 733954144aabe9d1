/**
 * The `modbus:` section onto the Modbus input's options, and the mapping rules its readings
 * go through: per device one `records` rule (the record registers as fields, the device's
 * tags) and, when it has metadata registers, one `metadata` rule, both listening on the
 * device's own `port` key `modbus:<bus>:<device>`. `{unit_id}`, `{device}` and `{bus}` are
 * filled in here; `{payload.x}` is left to the mapping engine.
 */
import type { ModbusDeviceOptions } from '../inputs/modbus/types.js';
import type { MappingRuleSpec } from '../mapping/types.js';
import type { EdgeConfig, ModbusSettings } from './types.js';

type Bus = NonNullable<EdgeConfig['modbus']>[number];
type Device = Bus['devices'][number];


export function modbusSettings(buses: NonNullable<EdgeConfig['modbus']>): ModbusSettings[] {
  return buses.map((b) => {
    const devices = b.devices.map((d) => deviceOptions(b, d));
    return {
      input: {
        name: b.name,
        transport: b.transport,
        ...(b.path !== undefined ? { path: b.path } : {}),
        baudRate: b.baud,
        dataBits: b.data_bits,
        parity: b.parity,
        stopBits: b.stop_bits,
        ...(b.host !== undefined ? { host: b.host, port: b.port } : {}),
        timeoutMs: b.timeout,
        retries: b.retries,
        silentIntervalMs: b.silent_interval,
        maxOutstanding: b.max_outstanding,
        offlineAfter: b.offline_after,
        offlineRetryCapMs: b.offline_retry_cap,
        reconnectBaseMs: b.reconnect.base,
        reconnectCapMs: b.reconnect.cap,
        reconnectResetAfterMs: b.reconnect.reset_after,
        devices,
      },
      rules: b.devices.flatMap((d, i) => deviceRules(b, d, devices[i]!)),
    };
  });
}

function deviceName(d: Device): string {
  return d.name ?? `unit-${d.unit_id}`;
}

/** Fills in `{unit_id}`, `{device}` and `{bus}`; other placeholders stay for the mapping engine. */
export function renderDeviceTemplate(template: string, bus: string, d: Device): string {
  return template.replace(/\{(unit_id|device|bus)\}/g, (_, k: string) => (k === 'unit_id' ? String(d.unit_id) : k === 'device' ? deviceName(d) : bus));
}

function deviceOptions(b: Bus, d: Device): ModbusDeviceOptions {
  const document = renderDeviceTemplate(d.document, b.name, d);
  return {
    name: deviceName(d),
    unitId: d.unit_id,
    ruleKey: `modbus:${b.name}:${deviceName(d)}`,
    document: document.includes('{') ? null : document,
    intervalMs: d.interval,
    maxRegistersPerRequest: d.max_registers_per_request,
    maxCoilsPerRequest: d.max_coils_per_request,
    maxGap: d.max_gap,
    identification: d.identification,
    registers: d.registers.map((r) => ({
      name: r.name,
      table: r.table,
      address: r.address,
      type: r.type,
      byteOrder: r.byte_order,
      wordOrder: r.word_order,
      ...(r.bit !== undefined ? { bit: r.bit } : {}),
      ...(r.length !== undefined ? { length: r.length } : {}),
      scale: r.scale,
      offset: r.offset,
      ...(r.unit !== undefined ? { unit: r.unit } : {}),
      kind: r.kind,
    })),
  };
}

function deviceRules(b: Bus, d: Device, o: ModbusDeviceOptions): MappingRuleSpec[] {
  const render = (t: string): string => renderDeviceTemplate(t, b.name, d);
  const document = render(d.document);
  // Optional fields: a register the device refuses (illegal address) is left out, not the reading.
  const fieldsOf = (kind: 'records' | 'metadata'): Record<string, string> =>
    Object.fromEntries(o.registers.filter((r) => r.kind === kind).map((r) => [r.name, `${r.name}?`]));
  const rules: MappingRuleSpec[] = [];
  const records = fieldsOf('records');
  if (Object.keys(records).length > 0) {
    const tags = d.tags === undefined ? undefined : Object.fromEntries(Object.entries(d.tags).map(([k, v]) => [k, render(v)]));
    rules.push({ port: o.ruleKey, kind: 'records', format: 'json', collection: render(d.collection), document, fields: records, ...(tags !== undefined ? { tags } : {}) });
  }
  const metadata = fieldsOf('metadata');
  if (Object.keys(metadata).length > 0) rules.push({ port: o.ruleKey, kind: 'metadata', format: 'json', document, fields: metadata });
  return rules;
}
