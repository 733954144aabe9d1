/**
 * The `modbus:` section: buses (RTU over a serial port, or TCP), their devices, and each
 * device's register map. Addresses are explicit in one of two notations, never guessed:
 * `address` is the protocol address (0-based, as on the wire), `ref` the 1-based reference
 * manuals print (40001 = holding register at address 0). The parsed config carries the
 * resolved `address` and `table` of every register, so `fluxion-edge check` shows them.
 */
import { z } from 'zod';
import { STANDARD_BAUD_RATES } from '../../inputs/serial/types.js';
import { duration, int } from './units.js';

const TABLES = ['coil', 'discrete', 'holding', 'input'] as const;
const TYPES = ['bool', 'int16', 'uint16', 'int32', 'uint32', 'int64', 'uint64', 'float32', 'float64', 'string'] as const;
const REF_TABLES: Record<string, (typeof TABLES)[number]> = { '0': 'coil', '1': 'discrete', '3': 'input', '4': 'holding' };
const NAME = /^[A-Za-z0-9._-]+$/;
const TEMPLATE_HELP = 'Placeholders: `{unit_id}`, `{device}` (the device name), `{bus}` (the bus name), `{payload.name}` a decoded value.';

/**
 * A 1-based reference to a table and protocol address: 5 digits (40001-49999: holding
 * 0-9998) or 6 digits (400001-465536: holding 0-65535); the first digit is the table
 * (0 coil, 1 discrete input, 3 input register, 4 holding register).
 */
export function resolveRef(ref: number | string): { table: (typeof TABLES)[number]; address: number } | string {
  const text = typeof ref === 'number' ? String(ref).padStart(5, '0') : ref;
  if (!/^\d{5,6}$/.test(text)) return 'must be a 5- or 6-digit reference such as 40001 or 400001 (first digit the table: 0 coil, 1 discrete input, 3 input register, 4 holding register)';
  const table = REF_TABLES[text[0]!];
  if (table === undefined) return `starts with ${text[0]}: the first digit must be 0 (coil), 1 (discrete input), 3 (input register) or 4 (holding register)`;
  const n = Number(text.slice(1));
  if (n < 1 || n > 65536) return `names register ${n} of its table: references count from 1 (e.g. 40001) up to 65536`;
  return { table, address: n - 1 };
}

const registerSchema = z
  .strictObject({
    name: z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, { error: 'must be letters, digits and underscores, e.g. voltage_l1' }).meta({
      description: 'Field name in the reading (or the metadata key for kind: metadata). Required.',
    }),
    table: z.enum(TABLES).optional().meta({
      description: 'coil (function 1), discrete (2), holding (3) or input (4). Required with address; implied by ref.',
    }),
    address: int(0, 65535).optional().meta({
      description: 'Protocol address, 0-based as sent on the wire (hex allowed: 0x0100). Give address or ref, not both.',
    }),
    ref: z.union([z.number().int(), z.string()]).optional().meta({
      description: 'The 1-based reference manuals use: 40001 is the holding register at address 0, 30001 input, 10001 discrete, 00001 coil (6 digits: 400001). Give address or ref, not both.',
    }),
    type: z.enum(TYPES).optional().meta({
      description: 'bool, int16, uint16, int32, uint32, int64, uint64 (exact: a string in data above 2^53), float32, float64 or string. Default bool for coils and discrete inputs, uint16 for registers.',
    }),
    byte_order: z.enum(['big', 'little']).default('big').meta({ description: 'Bytes inside each register: big (AB, the Modbus norm) or little (BA).' }),
    word_order: z.enum(['big', 'little']).default('big').meta({
      description: 'Registers of a 32/64-bit value: big (high word first: ABCD) or little (low word first: CDAB). With byte_order little: BADC and DCBA.',
    }),
    bit: int(0, 15).optional().meta({ description: 'Read one bit of a 16-bit register (0 = least significant) as a bool.' }),
    length: int(1, 125).optional().meta({ description: 'Registers of a string (two characters each; trailing NULs trimmed). Required with type: string.' }),
    scale: z.number().default(1).meta({ description: 'Multiplier: value * scale + offset.' }),
    offset: z.number().default(0).meta({ description: 'Added after scale.' }),
    unit: z.string().min(1).optional().meta({ description: 'Engineering unit (V, kWh, ...), kept as device metadata `unit.<name>`.' }),
    kind: z.enum(['records', 'metadata']).default('records').meta({
      description: '`records`: a field of every reading. `metadata`: a key/value of the device (serial number, firmware), written when it changes.',
    }),
  })
  .transform((r, ctx) => {
    let table = r.table;
    let address = r.address;
    if (r.ref !== undefined) {
      if (r.address !== undefined) ctx.issues.push({ code: 'custom', input: r, path: ['ref'], message: 'give address (0-based protocol address) or ref (1-based reference such as 40001), not both' });
      const resolved = resolveRef(r.ref);
      if (typeof resolved === 'string') ctx.issues.push({ code: 'custom', input: r.ref, path: ['ref'], message: resolved });
      else {
        if (table !== undefined && table !== resolved.table) ctx.issues.push({ code: 'custom', input: r, path: ['table'], message: `is ${table}, but ref ${String(r.ref)} names a ${resolved.table} register (drop table, or fix ref)` });
        table = resolved.table;
        address = resolved.address;
      }
    } else if (address === undefined) {
      ctx.issues.push({ code: 'custom', input: r, path: ['address'], message: 'needs address (0-based protocol address, e.g. 0x0100) or ref (1-based reference, e.g. 40257)' });
    } else if (table === undefined) {
      ctx.issues.push({ code: 'custom', input: r, path: ['table'], message: 'needs table (coil, discrete, holding or input) with address' });
    }
    const bitTable = table === 'coil' || table === 'discrete';
    const type = r.type ?? (bitTable || r.bit !== undefined ? 'bool' : 'uint16');
    if (bitTable && type !== 'bool') ctx.issues.push({ code: 'custom', input: r, path: ['type'], message: `must be bool for a ${table} (single bits)` });
    if (r.bit !== undefined && (bitTable || type !== 'bool')) ctx.issues.push({ code: 'custom', input: r, path: ['bit'], message: 'reads one bit of a holding or input register; give it with type bool (or no type)' });
    if (type === 'string' && r.length === undefined) ctx.issues.push({ code: 'custom', input: r, path: ['length'], message: 'is required with type string (registers, two characters each)' });
    if (type !== 'string' && r.length !== undefined) ctx.issues.push({ code: 'custom', input: r, path: ['length'], message: 'is for type string only' });
    const span = type === 'string' ? (r.length ?? 1) : /64$/.test(type) ? 4 : /32$/.test(type) ? 2 : 1;
    if (address !== undefined && address + span > 65536) ctx.issues.push({ code: 'custom', input: r, path: ['address'], message: `a ${type} at ${address} runs past the last address (65535)` });
    const { ref, ...rest } = r;
    return { ...rest, table: table ?? 'holding', address: address ?? 0, type, ...(ref !== undefined ? { ref } : {}) };
  });

const deviceSchema = z.strictObject({
  unit_id: int(0, 255).meta({ description: 'Unit (slave) id: 1-247 on RTU; behind a TCP gateway the id of the serial device (often 1, or 255 for the gateway itself). Required.' }),
  name: z.string().regex(NAME, { error: 'must be letters, digits, dot, underscore or hyphen' }).optional().meta({
    description: 'Device name in status, logs and `{device}`. Default `unit-<unit_id>`.',
  }),
  collection: z.string().min(1).meta({ description: `Collection template of the readings. Required. ${TEMPLATE_HELP}` }),
  document: z.string().min(1).meta({ description: `Document template: one document per device, also the device in metadata. Required. ${TEMPLATE_HELP}` }),
  interval: duration({ min: 100, max: 7 * 24 * 3600 * 1000 }).prefault('10s').meta({
    description: 'Time between polls, 100ms to 7d. A poll that overruns it skips the missed slots (counted), never queues them.',
  }),
  max_registers_per_request: int(1, 125).default(125).meta({ description: 'Largest register read in one request (some devices refuse long reads).' }),
  max_coils_per_request: int(1, 2000).default(2000).meta({ description: 'Largest coil or discrete input read in one request.' }),
  max_gap: int(0, 124).default(8).meta({
    description: 'Largest run of unlisted registers (or coils) read to merge two neighbours into one request. 0: merge only adjacent ones.',
  }),
  identification: z.boolean().default(false).meta({
    description: 'Ask Read Device Identification (function 43/14) once per run and keep vendor, product_code and revision as metadata.',
  }),
  tags: z.record(z.string().min(1), z.string()).optional().meta({ description: `Values added to every reading. ${TEMPLATE_HELP}` }),
  registers: z.array(registerSchema).min(1, { error: 'must list at least one register' }).meta({ description: 'The register map. At least one.' }),
});

const busSchema = z
  .strictObject({
    name: z.string().regex(NAME, { error: 'must be letters, digits, dot, underscore or hyphen, e.g. line-3-bus' }).meta({ description: 'Bus name in status, logs and `{bus}`. Required.' }),
    transport: z.enum(['rtu', 'tcp']).meta({ description: '`rtu`: RS-485/RS-232 serial line; `tcp`: Modbus TCP (a device or a gateway). Required.' }),
    path: z.string().regex(/^\S+$/).optional().meta({
      description: 'RTU: the adapter\'s device path; prefer /dev/serial/by-id/.... A port is either a serial input or a Modbus bus.',
    }),
    baud: z.literal(STANDARD_BAUD_RATES).default(9600).meta({ description: 'RTU: baud rate.' }),
    data_bits: z.literal([7, 8]).default(8).meta({ description: 'RTU: data bits.' }),
    parity: z.enum(['none', 'even', 'odd']).default('even').meta({ description: 'RTU: parity (the Modbus default is even; many devices use none with 2 stop bits).' }),
    stop_bits: z.literal([1, 2]).default(1).meta({ description: 'RTU: stop bits.' }),
    host: z.string().min(1).optional().meta({ description: 'TCP: host name or address.' }),
    port: int(1, 65535).default(502).meta({ description: 'TCP: port.' }),
    timeout: duration({ min: 10, max: 60_000 }).prefault('500ms').meta({ description: 'Per request: an answer later than this is a timeout.' }),
    retries: int(0, 5).default(1).meta({ description: 'Further attempts of a request after a timeout or a corrupt answer (offline devices get none).' }),
    silent_interval: duration({ max: 1000 }).prefault(0).meta({
      description: 'RTU: quiet time before each frame. 0: 3.5 characters at the baud rate (1.75 ms above 19,200), as the spec says.',
    }),
    max_outstanding: int(1, 16).default(1).meta({ description: 'TCP: requests in flight at once (gateways to RS-485 answer one at a time; raise it for native TCP devices).' }),
    offline_after: int(1, 100).default(3).meta({ description: 'Failed polls in a row after which a device is marked offline (status, metrics, metadata `modbus_state`).' }),
    offline_retry_cap: duration({ min: 100 }).prefault('30s').meta({ description: 'Longest delay between polls of an offline device (it doubles from the interval).' }),
    reconnect: z
      .strictObject({
        base: duration({ min: 1 }).prefault('200ms').meta({ description: 'First delay before reopening the adapter or reconnecting.' }),
        cap: duration({ min: 1 }).prefault('10s').meta({ description: 'Largest delay between attempts.' }),
        reset_after: duration().prefault('30s').meta({ description: 'A link up this long starts the backoff over.' }),
      })
      .prefault({})
      .meta({ description: 'Reopening an unplugged adapter (RTU) or reconnecting (TCP), with backoff.' }),
    devices: z.array(deviceSchema).min(1, { error: 'must list at least one device' }).meta({ description: 'Devices polled on this bus. At least one.' }),
  });
  // Checks across keys (path or host, unique unit ids and names) are in config/modbus-checks.ts,
  // on the raw tree, so they are reported even when a device elsewhere is invalid.

export const modbusSection = z.array(busSchema).optional().meta({
  description: 'Modbus buses polled on a schedule (RTU over RS-485, or TCP). Read-only: the agent never writes to a device. Absent: no Modbus input.',
});
