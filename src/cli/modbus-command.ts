/**
 * `fluxion-edge modbus read|poll`: commissioning from the shell, on the buses of a config.
 * `read` prints raw registers and their decoding as every type in every byte/word order
 * (engineers rarely know a device's word order before they try); `poll` runs one poll of a
 * configured device and prints the record it would queue, like `map`. Both only read.
 */
import pino from 'pino';
import { formatProblems, loadConfig, problemsOf, type EdgeSettings } from '../config/index.js';
import { resolveRef } from '../config/schema/modbus.js';
import { AgentError, ErrorCodes, isAgentError } from '../errors.js';
import { bitAt, decodeAllWays } from '../inputs/modbus/decode.js';
import { DevicePoller } from '../inputs/modbus/device-poller.js';
import { EXCEPTION_NAMES } from '../inputs/modbus/frames.js';
import { createTransport, pollPayload } from '../inputs/modbus/modbus-input.js';
import type { ModbusTransport } from '../inputs/modbus/transport.js';
import type { ModbusBusOptions, ModbusTable } from '../inputs/modbus/types.js';
import { compileRules } from '../mapping/index.js';
import { ExitCodes, type CommandIo } from './process-io.js';
import { intOption, parseCommandArgs, stringOption, type ParsedArgs } from './args.js';
import { present } from './map-command.js';
import { pickSubcommand } from './subcommands.js';

const USAGE = `usage: fluxion-edge modbus <command> [options]

commands:
  read  --config FILE [--bus NAME] --unit N (--table T --address A | --ref R) [--count N] [--json]
        read registers once; print them raw and decoded as every type in every order
        (ABCD, CDAB, BADC, DCBA). --address is the 0-based protocol address (0x0100 or 256);
        --ref the 1-based reference manuals print (40257). Table: coil, discrete, holding, input.
  poll  --config FILE [--bus NAME] (--device NAME | --unit N)
        run one poll of a configured device and print the record it would queue.

Both only read from the device; the agent never writes to one. Exit 1 when the device does
not answer or answers with an exception.
`;

const TABLES: readonly ModbusTable[] = ['coil', 'discrete', 'holding', 'input'];

export async function run(args: string[], io: CommandIo): Promise<number> {
  const picked = pickSubcommand(args, { read: runRead, poll: runPoll }, 'modbus', USAGE, io);
  if (typeof picked === 'number') return picked;
  try {
    return await picked.entry(picked.rest, io);
  } catch (err) {
    if (isAgentError(err, ErrorCodes.USAGE)) {
      io.stderr.write(`fluxion-edge modbus ${picked.name}: ${err.message}\n\n${USAGE}`);
      return ExitCodes.USAGE;
    }
    if (isAgentError(err, ErrorCodes.CONFIG_INVALID)) {
      io.stderr.write(`${formatProblems(problemsOf(err))}\n`);
      return ExitCodes.CONFIG;
    }
    throw err;
  }
}

function loadBus(p: ParsedArgs, io: CommandIo): { settings: EdgeSettings; bus: NonNullable<EdgeSettings['modbus']>[number] } {
  const settings = loadConfig(stringOption(p, 'config', true), io.env).settings;
  const buses = settings.modbus ?? [];
  const name = stringOption(p, 'bus');
  if (buses.length === 0) throw new AgentError(ErrorCodes.USAGE, 'the config has no modbus section');
  const bus = name === undefined ? (buses.length === 1 ? buses[0] : undefined) : buses.find((b) => b.input.name === name);
  if (bus === undefined) throw new AgentError(ErrorCodes.USAGE, name === undefined ? `give --bus: ${buses.map((b) => b.input.name).join(', ')}` : `no bus '${name}' (configured: ${buses.map((b) => b.input.name).join(', ')})`);
  return { settings, bus };
}

async function openBus(options: ModbusBusOptions, io: CommandIo): Promise<ModbusTransport | null> {
  const transport = createTransport(options, pino({ level: 'silent' }));
  await transport.start();
  if (transport.linkState !== 'open') {
    await transport.stop();
    io.stderr.write(`fluxion-edge modbus: cannot open bus ${options.name}: ${transport.lastError?.message ?? 'not available'}\n`);
    return null;
  }
  return transport;
}

function parseAddress(v: string): number {
  const n = /^0x[0-9a-f]+$/i.test(v) ? Number.parseInt(v.slice(2), 16) : /^\d+$/.test(v) ? Number(v) : Number.NaN;
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw new AgentError(ErrorCodes.USAGE, `--address must be 0-65535 (decimal or 0x hex), got '${v}'`);
  return n;
}

async function runRead(args: string[], io: CommandIo): Promise<number> {
  const p = parseCommandArgs(args, {
    config: { type: 'string', short: 'c' }, bus: { type: 'string' }, unit: { type: 'string' }, table: { type: 'string' },
    address: { type: 'string' }, ref: { type: 'string' }, count: { type: 'string' }, json: { type: 'boolean' },
  });
  const unitId = intOption(p, 'unit');
  if (unitId === undefined || unitId < 0 || unitId > 255) throw new AgentError(ErrorCodes.USAGE, '--unit (0-255) is required');
  const ref = stringOption(p, 'ref');
  const address = stringOption(p, 'address');
  let table = stringOption(p, 'table') as ModbusTable | undefined;
  let start: number;
  if ((ref === undefined) === (address === undefined)) throw new AgentError(ErrorCodes.USAGE, 'give exactly one of --address (0-based) and --ref (1-based, e.g. 40001)');
  if (ref !== undefined) {
    const r = resolveRef(/^\d+$/.test(ref) && ref.length < 5 ? Number(ref) : ref);
    if (typeof r === 'string') throw new AgentError(ErrorCodes.USAGE, `--ref ${r}`);
    if (table !== undefined && table !== r.table) throw new AgentError(ErrorCodes.USAGE, `--ref ${ref} is a ${r.table} register, not ${table}`);
    table = r.table;
    start = r.address;
  } else {
    if (table === undefined || !TABLES.includes(table)) throw new AgentError(ErrorCodes.USAGE, `--table must be one of ${TABLES.join(', ')}`);
    start = parseAddress(address!);
  }
  const bits = table === 'coil' || table === 'discrete';
  const count = intOption(p, 'count', 1)!;
  if (count < 1 || count > (bits ? 2000 : 125)) throw new AgentError(ErrorCodes.USAGE, `--count must be 1-${bits ? 2000 : 125}`);
  const { bus } = loadBus(p, io);
  const transport = await openBus(bus.input, io);
  if (transport === null) return ExitCodes.FAILURE;
  try {
    const outcome = await transport.request({ unitId, table, start, count }, bus.input.timeoutMs);
    if (!outcome.ok) {
      io.stderr.write(`no answer from unit ${unitId}: ${DevicePoller.describe(outcome)}\n`);
      return ExitCodes.FAILURE;
    }
    const a = outcome.answer;
    if (a.kind === 'exception') {
      io.stderr.write(`unit ${unitId} answered exception ${a.code} (${EXCEPTION_NAMES[a.code] ?? 'unknown'})\n`);
      return ExitCodes.FAILURE;
    }
    if (a.kind !== 'data') return ExitCodes.FAILURE;
    const raw = bits
      ? Array.from({ length: count }, (_, i) => ({ address: start + i, value: bitAt(a.data, i) }))
      : Array.from({ length: count }, (_, i) => ({ address: start + i, value: a.data.readUInt16BE(i * 2), hex: a.data.subarray(i * 2, i * 2 + 2).toString('hex') }));
    const decoded = bits ? [] : decodeAllWays(a.data, count);
    if (p.values.json === true) {
      io.stdout.write(`${JSON.stringify({ bus: bus.input.name, unit: unitId, table, start, count, raw, decoded }, null, 2)}\n`);
      return ExitCodes.OK;
    }
    io.stdout.write(`bus ${bus.input.name}, unit ${unitId}, ${table} from protocol address ${start} (0x${start.toString(16).padStart(4, '0')}), ${count}:\n`);
    for (const r of raw) io.stdout.write(`  ${String(r.address).padStart(5)}  ${'hex' in r ? `0x${r.hex}  ${r.value}` : String(r.value)}\n`);
    if (decoded.length > 0) {
      io.stdout.write('decoded (offset in registers from the start):\n');
      for (const d of decoded) io.stdout.write(`  +${String(d.offset).padEnd(3)} ${d.type.padEnd(8)} ${d.order.padEnd(5)} ${d.value}\n`);
    }
    return ExitCodes.OK;
  } finally {
    await transport.stop();
  }
}

async function runPoll(args: string[], io: CommandIo): Promise<number> {
  const p = parseCommandArgs(args, { config: { type: 'string', short: 'c' }, bus: { type: 'string' }, device: { type: 'string' }, unit: { type: 'string' } });
  const { settings, bus } = loadBus(p, io);
  const name = stringOption(p, 'device');
  const unit = intOption(p, 'unit');
  if ((name === undefined) === (unit === undefined)) throw new AgentError(ErrorCodes.USAGE, 'give exactly one of --device and --unit');
  const device = bus.input.devices.find((d) => (name !== undefined ? d.name === name : d.unitId === unit));
  if (device === undefined) throw new AgentError(ErrorCodes.USAGE, `no such device on bus ${bus.input.name} (configured: ${bus.input.devices.map((d) => `${d.name} (unit ${d.unitId})`).join(', ')})`);
  const transport = await openBus(bus.input, io);
  if (transport === null) return ExitCodes.FAILURE;
  try {
    const poller = new DevicePoller(device);
    const result = await poller.poll(transport, bus.input.timeoutMs, bus.input.retries);
    if (!result.answered) {
      io.stderr.write(`no answer from ${device.name} (unit ${device.unitId}): ${poller.lastError ?? 'no answer'}\n`);
      return ExitCodes.FAILURE;
    }
    for (const n of result.newlyUnreadable) io.stderr.write(`register ${n}: the device refuses its address (illegal data address); left out\n`);
    const mapped = compileRules(bus.rules, settings.mapping).map({ source: 'modbus', port: device.ruleKey, payload: pollPayload(result.values), receivedAt: result.at ?? Date.now() });
    io.stdout.write(`${JSON.stringify({ values: result.values, ...(present(mapped, settings) as object) }, null, 2)}\n`);
    return mapped.ok ? ExitCodes.OK : ExitCodes.FAILURE;
  } finally {
    await transport.stop();
  }
}
