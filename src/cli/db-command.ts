/**
 * `fluxion-edge db ...`: every client operation from the shell, JSON on stdout, one clear
 * line on stderr and a non-zero exit on error. The API key is never printed.
 */
import { readFileSync } from 'node:fs';
import { FluxionClient, isFluxionError, type FluxionRecord, type RecordKey } from '../client/index.js';
import { resolveApiKey } from '../config/secrets.js';
import { AgentError, ErrorCodes, isAgentError } from '../errors.js';
import { ExitCodes, type CommandIo } from './process-io.js';
import { intOption, parseCommandArgs, stringOption, type OptionSpec, type ParsedArgs } from './args.js';
import { pickSubcommand } from './subcommands.js';

const CONNECTION_OPTIONS: OptionSpec = {
  url: { type: 'string' },
  'api-key': { type: 'string' },
  'api-key-file': { type: 'string' },
  timeout: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
};

const USAGE = `usage: fluxion-edge db <command> [options]

connection (every command):
  --url URL              server, default $FLUXION_URL or ws://127.0.0.1:8080
  --api-key-file FILE    read the API key from FILE (else --api-key KEY, else $FLUXION_API_KEY)
  --timeout MS           request timeout, default 10000

commands:
  collections                                   list collections
  connections                                   list connections to the server
  latest --col C [--ts N] [--doc D|/re/] [--from N] [--where W] [--filter F]
                                                latest record per document at ts (default now)
  doc --col C --doc D --from N --to N [--limit N] [--reverse] [--where W] [--filter F]
                                                records of one document
  insert [--file F]                             insert records: a JSON array or JSON lines, file or stdin
  delete-record --col C --doc D --ts N
  delete-records [--file F]                     JSON array of {col, doc, ts}, file or stdin
  delete-range --col C --doc D --from N --to N  inclusive bounds
  delete-doc --doc D [--col C]                  (without --col: that document everywhere)
  delete-col --col C
  kv get|set|keys|values|delete --col C [--key K] [--value V]
  keys add --key K --scope readonly|read_write|read_write_delete
  keys remove --key K
  keys list [--show-keys]                       keys are masked unless --show-keys
`;

type Handler = (client: FluxionClient, parsed: ParsedArgs, io: CommandIo) => Promise<unknown>;

const str = (p: ParsedArgs, name: string): string => stringOption(p, name, true);
const int = (p: ParsedArgs, name: string): number => intOption(p, name) ?? missing(name);
function missing(name: string): never {
  throw new AgentError(ErrorCodes.USAGE, `missing required option --${name}`);
}

/** Commands: their own options and what they do. */
const COMMANDS: Record<string, { options: OptionSpec; handler: Handler }> = {
  collections: { options: {}, handler: (c) => c.fetchCollections() },
  connections: { options: {}, handler: (c) => c.getConnections() },
  latest: {
    options: { col: { type: 'string' }, ts: { type: 'string' }, doc: { type: 'string' }, from: { type: 'string' }, where: { type: 'string' }, filter: { type: 'string' } },
    handler: (c, p) =>
      c.fetchLatestRecords({
        col: str(p, 'col'),
        ts: intOption(p, 'ts') ?? Date.now(),
        doc: stringOption(p, 'doc'),
        from: intOption(p, 'from'),
        where: stringOption(p, 'where'),
        filter: stringOption(p, 'filter'),
      }),
  },
  doc: {
    options: {
      col: { type: 'string' }, doc: { type: 'string' }, from: { type: 'string' }, to: { type: 'string' },
      limit: { type: 'string' }, reverse: { type: 'boolean' }, where: { type: 'string' }, filter: { type: 'string' },
    },
    handler: (c, p) =>
      c.fetchDocument({
        col: str(p, 'col'),
        doc: str(p, 'doc'),
        from: int(p, 'from'),
        to: int(p, 'to'),
        limit: intOption(p, 'limit'),
        reverse: p.values.reverse === true,
        where: stringOption(p, 'where'),
        filter: stringOption(p, 'filter'),
      }),
  },
  insert: {
    options: { file: { type: 'string' } },
    handler: async (c, p, io) => {
      const records = parseJsonList(await readInput(p, io), 'records') as FluxionRecord[];
      await c.insertMultipleRecords(records);
      return { inserted: records.length };
    },
  },
  'delete-record': {
    options: { col: { type: 'string' }, doc: { type: 'string' }, ts: { type: 'string' } },
    handler: async (c, p) => ack(await c.deleteRecord({ col: str(p, 'col'), doc: str(p, 'doc'), ts: int(p, 'ts') })),
  },
  'delete-records': {
    options: { file: { type: 'string' } },
    handler: async (c, p, io) => {
      const keys = parseJsonList(await readInput(p, io), 'records') as RecordKey[];
      await c.deleteMultipleRecords(keys);
      return { deleted: keys.length };
    },
  },
  'delete-range': {
    options: { col: { type: 'string' }, doc: { type: 'string' }, from: { type: 'string' }, to: { type: 'string' } },
    handler: async (c, p) =>
      ack(await c.deleteRecordsRange({ col: str(p, 'col'), doc: str(p, 'doc'), fromTs: int(p, 'from'), toTs: int(p, 'to') })),
  },
  'delete-doc': {
    options: { col: { type: 'string' }, doc: { type: 'string' } },
    handler: async (c, p) => ack(await c.deleteDocument({ doc: str(p, 'doc'), col: stringOption(p, 'col') })),
  },
  'delete-col': {
    options: { col: { type: 'string' } },
    handler: async (c, p) => ack(await c.deleteCollection({ col: str(p, 'col') })),
  },
  kv: {
    options: { col: { type: 'string' }, key: { type: 'string' }, value: { type: 'string' } },
    handler: async (c, p) => {
      const [action] = p.positionals;
      const col = str(p, 'col');
      switch (action) {
        case 'get':
          return { value: await c.getValue({ col, key: str(p, 'key') }) };
        case 'set':
          return ack(await c.setValue({ col, key: str(p, 'key'), value: str(p, 'value') }));
        case 'keys':
          return c.getKeys({ col });
        case 'values':
          return c.getValues({ col, key: stringOption(p, 'key') });
        case 'delete':
          return ack(await c.deleteValue({ col, key: str(p, 'key') }));
        default:
          throw new AgentError(ErrorCodes.USAGE, `db kv needs one of get|set|keys|values|delete, got '${action ?? ''}'`);
      }
    },
  },
  keys: {
    options: { key: { type: 'string' }, scope: { type: 'string' }, 'show-keys': { type: 'boolean' } },
    handler: async (c, p) => {
      const [action] = p.positionals;
      switch (action) {
        case 'add':
          return { status: 'ok', scope: await c.addApiKey(str(p, 'key'), str(p, 'scope') as never) };
        case 'remove':
          await c.removeApiKey(str(p, 'key'));
          return { status: 'ok' };
        case 'list': {
          const keys = await c.listApiKeys();
          return p.values['show-keys'] === true ? keys : keys.map((k) => ({ ...k, key: maskKey(k.key) }));
        }
        default:
          throw new AgentError(ErrorCodes.USAGE, `db keys needs one of add|remove|list, got '${action ?? ''}'`);
      }
    },
  },
};

function ack(_: void): { status: 'ok' } {
  return { status: 'ok' };
}

/** Enough of a key to tell keys apart, not enough to use one. */
export function maskKey(key: string): string {
  return key.length <= 4 ? '****' : `${key.slice(0, 2)}…${key.slice(-2)} (${key.length} chars)`;
}

async function readInput(p: ParsedArgs, io: CommandIo): Promise<string> {
  const file = stringOption(p, 'file');
  if (file !== undefined && file !== '-') {
    try {
      return readFileSync(file, 'utf8');
    } catch (err) {
      throw new AgentError(ErrorCodes.USAGE, `cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`, { cause: err });
    }
  }
  let text = '';
  for await (const chunk of io.stdin) text += String(chunk);
  return text;
}

/** A JSON array, or JSON lines (one object per line). */
function parseJsonList(text: string, what: string): unknown[] {
  const trimmed = text.trim();
  try {
    if (trimmed.startsWith('[')) return JSON.parse(trimmed) as unknown[];
    return trimmed.split('\n').filter((l) => l.trim() !== '').map((l) => JSON.parse(l) as unknown);
  } catch (err) {
    throw new AgentError(ErrorCodes.USAGE, `${what}: not a JSON array or JSON lines (${(err as Error).message})`, { cause: err });
  }
}

export async function run(args: string[], io: CommandIo): Promise<number> {
  const picked = pickSubcommand(args, COMMANDS, 'db', USAGE, io);
  if (typeof picked === 'number') return picked;
  const { name, entry: command, rest } = picked;
  let client: FluxionClient | undefined;
  try {
    const parsed = parseCommandArgs(rest, { ...CONNECTION_OPTIONS, ...command.options }, name === 'kv' || name === 'keys');
    if (parsed.values.help === true) {
      io.stdout.write(USAGE);
      return ExitCodes.OK;
    }
    const apiKey = resolveApiKey(
      { apiKey: stringOption(parsed, 'api-key'), apiKeyFile: stringOption(parsed, 'api-key-file') },
      io.env,
    );
    client = new FluxionClient({
      url: stringOption(parsed, 'url') ?? io.env.FLUXION_URL ?? 'ws://127.0.0.1:8080',
      apiKey,
      connectionName: 'fluxion-edge-cli',
      requestTimeoutMs: intOption(parsed, 'timeout', 10_000),
      reconnect: false,
    });
    const result = await command.handler(client, parsed, io);
    io.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
    return ExitCodes.OK;
  } catch (err) {
    if (isAgentError(err, ErrorCodes.USAGE)) {
      io.stderr.write(`fluxion-edge db ${name}: ${err.message}\n`);
      return ExitCodes.USAGE;
    }
    const code = isFluxionError(err) || isAgentError(err) ? `${err.code}: ` : '';
    io.stderr.write(`fluxion-edge db ${name}: ${code}${err instanceof Error ? err.message : String(err)}\n`);
    return ExitCodes.FAILURE;
  } finally {
    await client?.close();
  }
}
