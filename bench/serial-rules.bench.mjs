// Serial rule selection: the cost of several rules on one port. Lines of three kinds (NMEA,
// CSV, key=value) are mapped by one rule set with three rules, with `match` selectors and
// without (the first rule that maps a line wins, so a kv line is tried by the NMEA and CSV
// rules first), against the baseline of the same lines each mapped by a one-rule set of its
// own kind. ratio = lines/s of the shared port / lines/s of the baseline (1.0: sharing a port
// costs nothing). Pure mapping, no I/O: the hot path's share of it.
import { compileRules } from '../dist/mapping/index.js';
import { nmeaChecksum } from '../dist/mapping/nmea.js';
import { report } from './common.mjs';

const N = 300_000;
const BASE_TS = 1_700_000_000_000;

const nmeaBody = 'GPGGA,123519.00,4807.038,N,01131.000,E,1,08,0.9,545.4,M,46.9,M,,';
const GGA = `$${nmeaBody}*${nmeaChecksum(nmeaBody)}`;
const lineOf = (i) => (i % 3 === 0 ? GGA : i % 3 === 1 ? `${BASE_TS + i},230.${i % 10},4.2,966` : `state=run speed=${i % 1500}`);

const nmea = { port: 'p', collection: 'gps', document: 'truck-7', format: 'nmea', fields: { lat: 'lat', lon: 'lon' } };
const csv = { port: 'p', collection: 'energy', document: 'meter-1', format: 'csv', csv: { header: ['ts', 'v', 'i', 'p'] }, timestamp: { field: 'ts', unit: 'ms' }, coerce: 'number' };
const kv = { port: 'p', collection: 'plc', document: 'plc-1', format: 'kv', fields: { state: 'state', speed: 'speed' } };

function rate(setFor) {
  const lines = Array.from({ length: N }, (_, i) => ({ source: 'serial', port: 'p', payload: lineOf(i), receivedAt: BASE_TS + i }));
  let records = 0;
  const t0 = performance.now();
  for (let i = 0; i < N; i++) {
    const r = setFor(i).map(lines[i]);
    if (r.ok) records += r.records.length;
  }
  const s = (performance.now() - t0) / 1000;
  if (records !== N) throw new Error(`expected ${N} records, got ${records}`);
  return N / s;
}

// Warm-up, then each case; the baseline runs first and last (noisy machines), its best is kept.
const alone = [compileRules([nmea]), compileRules([csv]), compileRules([kv])];
const shared = compileRules([nmea, csv, kv]);
const selected = compileRules([{ ...nmea, match: { prefix: '$' } }, { ...csv, match: { cells: 4 } }, { ...kv, match: { regex: '^state=' } }]);
rate((i) => alone[i % 3]);
const base1 = rate((i) => alone[i % 3]);
const firstWins = rate(() => shared);
const withMatch = rate(() => selected);
const base2 = rate((i) => alone[i % 3]);
const base = Math.max(base1, base2);
report('serial-rules', {
  lines: N,
  baseline_lines_per_s: base,
  first_wins_ratio: firstWins / base,
  match_ratio: withMatch / base,
});
