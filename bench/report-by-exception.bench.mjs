// Report by exception on a slowly varying signal: 100 tank levels, each a random walk with
// measurement noise, read at 1 Hz for an hour (360,000 readings), deadband 0.5 %, heartbeat
// 5 min. Prints records sent / readings received, and the CPU per reading the report stage
// adds to mapping (the same rule without `report:`, measured in the same run).
import { compileRules } from '../dist/mapping/index.js';
import { ReportStage } from '../dist/mapping/report/index.js';
import { ownCpuSeconds, report } from './common.mjs';

const DOCS = 100;
const SECONDS = 3600;
const T0 = Date.UTC(2026, 0, 1);

function gaussian(rnd) {
  return Math.sqrt(-2 * Math.log(rnd() + 1e-12)) * Math.cos(2 * Math.PI * rnd());
}

function messages() {
  let seed = 42;
  const rnd = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
  const level = Array.from({ length: DOCS }, () => 40 + rnd() * 20);
  const out = [];
  for (let s = 0; s < SECONDS; s++) {
    for (let d = 0; d < DOCS; d++) {
      level[d] += gaussian(rnd) * 0.02; // the slow drift (metres per second)
      const reading = Math.round((level[d] + gaussian(rnd) * 0.03) * 1000) / 1000; // sensor noise
      out.push({ source: 'mqtt', topic: `tanks/t${d}/level`, payload: `{"ts":${T0 + s * 1000},"level":${reading}}`, receivedAt: T0 + s * 1000 });
    }
  }
  return out;
}

const RULE = { topic: 'tanks/{tank}/level', collection: 'tanks', document: '{tank}', timestamp: { field: 'ts', unit: 'ms' }, fields: { level: 'level' } };

function run(msgs, withReport) {
  const rules = [withReport ? { ...RULE, report: { deadband: { level: '0.5%' }, max_interval: 300_000 } } : RULE];
  const set = compileRules(rules);
  const stage = withReport ? ReportStage.build(rules, {}) : null;
  let sent = 0;
  const cpu0 = ownCpuSeconds();
  for (let i = 0; i < msgs.length; i += 20) {
    const records = [];
    const ruleOf = [];
    for (let k = i; k < Math.min(i + 20, msgs.length); k++) {
      const r = set.map(msgs[k]);
      for (const rec of r.records) records.push(rec);
      for (const x of set.recordRules()) ruleOf.push(x);
    }
    sent += stage === null ? records.length : stage.admit(records, ruleOf).records.length;
  }
  return { sent, cpuUs: ((ownCpuSeconds() - cpu0) * 1e6) / msgs.length };
}

export async function main() {
  const msgs = messages();
  // Interleaved, best of three each: the machine is shared.
  const plain = [];
  const rbe = [];
  for (let i = 0; i < 3; i++) {
    plain.push(run(msgs, false));
    rbe.push(run(msgs, true));
  }
  const best = (xs) => xs.reduce((a, b) => (b.cpuUs < a.cpuUs ? b : a));
  const p = best(plain);
  const r = best(rbe);
  report('report-by-exception', {
    readings: msgs.length,
    'records_sent': r.sent,
    'sent/received_ratio': r.sent / msgs.length,
    'mapping cpu_us/reading': p.cpuUs,
    'mapping+report cpu_us/reading': r.cpuUs,
    'report_added cpu_us/reading': r.cpuUs - p.cpuUs,
    'with/without_cpu_ratio': r.cpuUs / p.cpuUs,
  });
}

if (import.meta.url === `file://${process.argv[1]}`) await main();
