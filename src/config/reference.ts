/**
 * Generates the two committed artifacts from the schema: `config.schema.json` (for editors)
 * and `docs/configuration.md` (the reference). `scripts/gen-config-docs.mjs` writes them;
 * a unit test fails when the committed files differ from what this produces.
 */
import { configJsonSchema, type JsonSchemaNode } from './json-schema.js';
import { isLiveOnReload } from './reload-policy.js';

export function renderJsonSchema(): string {
  return `${JSON.stringify(configJsonSchema(), null, 2)}\n`;
}

const INTRO = `# Configuration reference

<!-- Generated from src/config/schema/ by \`npm run gen:config\`; do not edit by hand. -->

The agent reads one YAML file; \`fluxion-edge check --config FILE\` validates it the same way
and prints it resolved, with secrets masked. Every problem is reported at once with its
key path and line:column, and unknown keys are errors (with the closest known key suggested).
\`config.example.yaml\` is a complete, commented example.

**Editor support.** \`config.schema.json\` (shipped with the package) is a JSON Schema of this file.
With the YAML extension of VS Code (or any editor using yaml-language-server), put this first line
in your config to get completion, documentation on hover and validation as you type:

\`\`\`yaml
# yaml-language-server: $schema=./config.schema.json
\`\`\`

(The path is relative to the config file; point it at the copy in
\`node_modules/fluxion-edge/config.schema.json\` or \`/usr/lib/node_modules/fluxion-edge/\` as installed.)

**Values.**

- *Durations*: \`"500ms"\`, \`"15s"\`, \`"5m"\`, \`"24h"\`, \`"7d"\`, \`"2w"\`, parts summed (\`"1h30m"\`, as on the command line; decimals allowed: \`"1.5s"\`), or a number of milliseconds.
- *Instants*: an ISO 8601 date (UTC midnight) or date-time with a zone (\`"2024-05-01T12:00:00Z"\`), checked against the calendar (30 February is refused), or milliseconds since the epoch.
- *Sizes*: \`"512KiB"\`, \`"1MiB"\`, \`"2GiB"\` (powers of 2), \`"2GB"\` (powers of 10), or a number of bytes.
- *Environment variables*: \`\${NAME}\` in any string value is replaced by the variable's value;
  \`\${NAME:-default}\` gives a default for an unset or empty variable; \`$\${\` writes a literal \`\${\`.
  An unset variable without a default is an error. Where a number or \`true\`/\`false\` is expected, the
  substituted text is converted (\`port: \${MQTT_PORT}\`).
- *Secrets*: \`api_key_file\` and \`password_file\` (readable by the service user only), or \`\${ENV}\`
  references; relative file paths are relative to the config file. The agent warns when a secret
  file, or a config file holding a secret, is readable by other users.
- *Paths*: relative paths (secret files, TLS files, \`queue.path\`) are relative to the config file's directory.
- *Reload*: \`systemctl reload\` (SIGHUP) applies the sections and keys marked *live on reload* below;
  a change anywhere else is logged as needing a restart, by its key path, and the running value stays.

`;

interface Row {
  key: string;
  node: JsonSchemaNode;
}

export function renderReference(): string {
  const root = configJsonSchema();
  const out: string[] = [INTRO];
  for (const [section, node] of Object.entries(root.properties ?? {})) {
    const required = root.required?.includes(section) === true;
    out.push(`## \`${section}\`${required ? ' (required)' : ''}\n\n${node.description ?? ''}\n\n${reloadNote(node)}\n`);
    out.push('| key | type | default | description |', '|---|---|---|---|');
    // A section that is a list (serial ports, Modbus buses) documents the keys of its entries.
    const items = node.type === 'array' && node.items !== undefined && objectShape(node.items)?.properties !== undefined ? node.items : null;
    for (const row of items !== null ? rows(`${section}[]`, items) : rows(section, node)) {
      const live = isLiveOnReload(row.node) ? '*Live on reload.* ' : '';
      out.push(`| \`${row.key}\` | ${typeOf(row.node)} | ${defaultOf(row.node)} | ${live}${cell(row.node.description ?? '')} |`);
    }
    out.push('');
  }
  return `${out.join('\n').trimEnd()}\n`;
}

function reloadNote(section: JsonSchemaNode): string {
  if (isLiveOnReload(section)) return '*Live on reload*: a reload (SIGHUP) applies a change to this section.';
  const anyLive = hasLive(section);
  return anyLive
    ? '*Reload*: a change needs a restart, except under the keys marked *live on reload*.'
    : '*Reload*: a change needs a restart.';
}

function hasLive(n: JsonSchemaNode): boolean {
  if (isLiveOnReload(n)) return true;
  const children = [...Object.values(n.properties ?? {}), ...(n.anyOf ?? []), ...(n.items !== undefined ? [n.items] : [])];
  return children.some(hasLive);
}

function rows(prefix: string, node: JsonSchemaNode): Row[] {
  const out: Row[] = [];
  const obj = objectShape(node);
  if (obj?.properties !== undefined) {
    for (const [k, child] of Object.entries(obj.properties)) {
      const key = `${prefix}.${k}`;
      const childObj = objectShape(child);
      if (childObj?.properties !== undefined) {
        out.push({ key, node: child }, ...rows(key, child));
      } else if (child.type === 'array' && child.items !== undefined && objectShape(child.items)?.properties !== undefined) {
        out.push({ key, node: child }, ...rows(`${key}[]`, child.items));
      } else if (typeof childObj?.additionalProperties === 'object' && objectShape(childObj.additionalProperties)?.properties !== undefined) {
        out.push({ key, node: child }, ...rows(`${key}.<name>`, childObj.additionalProperties));
      } else {
        out.push({ key, node: child });
      }
    }
  }
  return out;
}

function objectShape(node: JsonSchemaNode): JsonSchemaNode | undefined {
  if (node.type === 'object') return node;
  return node.anyOf?.find((n) => n.type === 'object');
}

function typeOf(n: JsonSchemaNode): string {
  switch (n['x-kind']) {
    case 'duration':
      return 'duration';
    case 'size':
      return 'size';
    case 'instant':
      return 'date-time or ms';
  }
  if (n.enum !== undefined) return n.enum.map((v) => `\`${String(v)}\``).join(' \\| ');
  if (n.anyOf !== undefined) return n.anyOf.map(typeOf).join(' or ');
  if (n.type === 'integer') {
    const min = n.minimum ?? n.exclusiveMinimum;
    const max = n.maximum !== undefined && n.maximum < Number.MAX_SAFE_INTEGER ? n.maximum : undefined;
    if (min !== undefined && max !== undefined) return `integer ${String(min)}..${max}`;
    return min !== undefined && Number(min) > Number.MIN_SAFE_INTEGER ? `integer ≥ ${String(min)}` : 'integer';
  }
  if (n.type === 'array') return n.items !== undefined && objectShape(n.items) !== undefined ? 'list of maps' : `list of ${typeOf(n.items ?? {})}s`;
  if (n.type === 'object') {
    if (objectShape(n)?.properties !== undefined) return 'map';
    const values = typeof n.additionalProperties === 'object' ? n.additionalProperties : {};
    return objectShape(values)?.properties !== undefined ? 'map of maps' : `map of ${typeOf(values)}`;
  }
  return typeof n.type === 'string' ? n.type : 'any';
}

function defaultOf(n: JsonSchemaNode): string {
  if (n.default === undefined) return '';
  if (typeof n.default === 'object' && n.default !== null && Object.keys(n.default).length === 0) return '';
  // A string default with a control character (the delimiter's "\n") is shown escaped: raw, it would break the table row.
  const text = typeof n.default === 'string' && !/[\u0000-\u001f]/.test(n.default) ? n.default : JSON.stringify(n.default);
  return `\`${text}\``;
}

function cell(text: string): string {
  return text.replace(/\|/g, '\\|').replace(/\n/g, ' ');
}
