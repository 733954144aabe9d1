/**
 * `${VAR}` and `${VAR:-default}` in string values, resolved from the environment given to
 * the loader (never from `process.env` directly). `$${` writes a literal `${`.
 *
 * Substitution happens on the parsed tree, so a value always lands where its key says, and
 * the result is a string. Where the schema wants a number or a boolean and the result
 * reads as one (`port: ${MQTT_PORT}`), it is converted, as a YAML scalar would have been.
 */
import type { ConfigPath } from './problems.js';

export type Env = Readonly<Record<string, string | undefined>>;

export interface SubstitutionProblem {
  path: ConfigPath;
  message: string;
}

const REF = /\$\$\{|\$\{([^}]*)\}?/g;
const NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

export function substituteEnv(
  tree: unknown,
  env: Env,
  typesAt: (path: ConfigPath) => Set<string>,
): { tree: unknown; problems: SubstitutionProblem[] } {
  const problems: SubstitutionProblem[] = [];
  const walk = (value: unknown, path: Array<string | number>): unknown => {
    if (typeof value === 'string') return value.includes('${') ? substituteOne(value, path) : value;
    if (Array.isArray(value)) return value.map((v, i) => walk(v, [...path, i]));
    if (value !== null && typeof value === 'object') {
      const out: Record<string, unknown> = {};
      for (const [k, v] of Object.entries(value)) out[k] = walk(v, [...path, k]);
      return out;
    }
    return value;
  };
  const substituteOne = (text: string, path: Array<string | number>): unknown => {
    let failed = false;
    const result = text.replace(REF, (match, body: string | undefined) => {
      if (match === '$${') return '${';
      if (!match.endsWith('}')) {
        problems.push({ path, message: `unterminated \${ in ${JSON.stringify(text)} (write $\${ for a literal \${)` });
        failed = true;
        return '';
      }
      const sep = body!.indexOf(':-');
      const name = sep < 0 ? body! : body!.slice(0, sep);
      if (!NAME.test(name)) {
        problems.push({ path, message: `\${${body}} is not a variable reference: use \${NAME} or \${NAME:-default}` });
        failed = true;
        return '';
      }
      const v = env[name];
      if (v !== undefined && v !== '') return v;
      if (sep >= 0) return body!.slice(sep + 2);
      problems.push({ path, message: `environment variable ${name} is not set (set it, or give a default: \${${name}:-value})` });
      failed = true;
      return '';
    });
    return failed ? undefined : convert(result, typesAt(path));
  };
  return { tree: walk(tree, []), problems };
}

function convert(text: string, types: Set<string>): unknown {
  if (types.has('string') || types.size === 0) return text;
  const t = text.trim();
  if ((types.has('integer') || types.has('number')) && /^-?\d+(\.\d+)?$/.test(t)) return Number(t);
  if (types.has('boolean') && (t === 'true' || t === 'false')) return t === 'true';
  return text;
}
