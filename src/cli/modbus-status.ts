/** `fluxion-edge status`: one line per Modbus device under its bus. */
import type { ModbusInputStatus } from '../inputs/modbus/index.js';
import type { InputStatus } from '../inputs/types.js';

export function modbusDeviceLines(input: InputStatus, indent: number): string[] {
  if (!input.name.startsWith('modbus:') || !('devices' in input)) return [];
  const bus = input as ModbusInputStatus;
  const pad = ''.padEnd(indent + 4);
  const out = [`${pad}${bus.transport} link ${bus.link}, ${bus.reopens} reopens, ${bus.strayBytes} stray bytes`];
  for (const d of bus.devices) {
    const c = d.counters;
    const ex = Object.entries(c.exceptions).map(([code, n]) => `${n}x code ${code}`).join(', ');
    out.push(
      `${pad}${`${d.name} (unit ${d.unitId})`.padEnd(18)} ${d.state.padEnd(8)} ${c.polls} polls, ${c.skipped} skipped, ${c.failedPolls} failed, ${c.timeouts} timeouts, ${c.crcErrors} CRC errors${ex === '' ? '' : `, exceptions ${ex}`}${d.unreadable.length > 0 ? `; unreadable: ${d.unreadable.join(', ')}` : ''}${d.lastError !== null ? `; last error: ${d.lastError}` : ''}`,
    );
  }
  return out;
}
