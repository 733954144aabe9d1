/** The Modbus inputs' per-device counters and states in `/metrics`. */
import type { ModbusInputStatus } from '../inputs/modbus/index.js';
import type { InputStatus } from '../inputs/types.js';
import type { Exposition } from './exposition.js';

function isModbus(i: InputStatus): i is ModbusInputStatus {
  return i.name.startsWith('modbus:') && 'devices' in i;
}

export function modbusMetrics(e: Exposition, inputs: readonly InputStatus[]): void {
  const buses = inputs.filter(isModbus);
  if (buses.length === 0) return;
  const devices = buses.flatMap((b) => b.devices.map((d) => ({ labels: { bus: b.bus, device: d.name, unit: String(d.unitId) }, d })));
  e.metric('fluxion_edge_modbus_device_online', 'gauge', 'Modbus device answering (1) or offline / not yet polled (0).', devices.map(({ labels, d }) => [labels, d.state === 'online' ? 1 : 0] as const));
  const counter = (name: string, help: string, pick: (c: ModbusInputStatus['devices'][number]['counters']) => number): void =>
    e.metric(name, 'counter', help, devices.map(({ labels, d }) => [labels, pick(d.counters)] as const));
  counter('fluxion_edge_modbus_polls_total', 'Polls of a Modbus device since start.', (c) => c.polls);
  counter('fluxion_edge_modbus_polls_skipped_total', 'Poll slots skipped because a poll overran its interval.', (c) => c.skipped);
  counter('fluxion_edge_modbus_polls_failed_total', 'Polls a Modbus device did not answer at all.', (c) => c.failedPolls);
  counter('fluxion_edge_modbus_requests_total', 'Modbus requests sent (retries included).', (c) => c.requests);
  counter('fluxion_edge_modbus_timeouts_total', 'Modbus requests without an answer in time.', (c) => c.timeouts);
  counter('fluxion_edge_modbus_crc_errors_total', 'RTU answers with a bad CRC.', (c) => c.crcErrors);
  counter('fluxion_edge_modbus_garbage_bytes_total', 'RTU bytes before an answer that belonged to no frame.', (c) => c.garbage);
  counter('fluxion_edge_modbus_queue_refused_total', 'Modbus readings dropped because the queue refused them (full).', (c) => c.queueRefused);
  e.metric(
    'fluxion_edge_modbus_exceptions_total',
    'counter',
    'Modbus exception answers by code (1 illegal function, 2 illegal data address, 3 illegal data value, 4 device failure, 6 busy, 11 gateway target failed).',
    devices.flatMap(({ labels, d }) => Object.entries(d.counters.exceptions).map(([code, n]) => [{ ...labels, code }, n] as const)),
  );
  e.metric('fluxion_edge_modbus_bus_reopens_total', 'counter', 'Times a Modbus adapter was reopened or a TCP link reconnected.', buses.map((b) => [{ bus: b.bus }, b.reopens] as const));
  e.metric('fluxion_edge_modbus_stray_bytes_total', 'counter', 'RTU bytes read while no request waited; TCP answers to no request in flight.', buses.map((b) => [{ bus: b.bus }, b.strayBytes] as const));
}
