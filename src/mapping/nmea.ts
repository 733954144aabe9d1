/**
 * NMEA 0183 sentences (GPS receivers) as a payload format. The checksum is verified, and GGA
 * and RMC are parsed into flat objects whose `time` is the UTC instant of the fix as an ISO
 * 8601 string (map it with `timestamp: { field: time, unit: iso }`):
 *
 *   GGA: sentence, talker, time, lat, lon, fix_quality, satellites, hdop, alt, geoid_sep
 *   RMC: sentence, talker, time, status, lat, lon, speed_knots, speed_kmh, course, mag_var
 *
 * Latitude and longitude are decimal degrees (south and west negative), altitude and geoid
 * separation metres. Empty fields are left out.
 *
 * GGA carries only the time of day: the date is the receive date (UTC), moved by one day
 * when the two are more than 12 h apart, so a fix from 23:59:59 received at 00:00:01 is
 * dated the day before. RMC carries its own date (two-digit years: 80-99 are 19xx).
 *
 * Receivers send many sentence types (GSV and GSA every second); only those listed in
 * `sentences` (default GGA and RMC) become readings. The others, and sentences without a fix
 * when `require_fix` is on, are skipped: counted as `filtered`, not dead-lettered, so
 * ordinary chatter does not flood the dead-letter table. A bad checksum, a malformed
 * sentence or a listed type with wrong fields is a `parse_error`.
 */

/** Sentence types this parser understands. */
export const NMEA_SENTENCES = ['GGA', 'RMC'] as const;
export type NmeaSentence = (typeof NMEA_SENTENCES)[number];

/** The sentence is valid but not wanted: counted as filtered, never dead-lettered. */
export class NmeaSkip {
  constructor(readonly reason: string) {}
}

/** The line is not a valid sentence (or a listed one with bad fields). */
export class NmeaError {
  constructor(readonly reason: string) {}
}

export interface NmeaOptions {
  sentences: readonly NmeaSentence[];
  requireFix: boolean;
}

const HEX = '0123456789ABCDEF';
const KNOT_KMH = 1.852;
const DAY_MS = 86_400_000;

/**
 * Parses one sentence (`$GPGGA,...*47`, trailing CR/LF and spaces ignored). `receivedAt`
 * (ms since the epoch) dates GGA fixes.
 */
export function parseNmea(text: string, receivedAt: number, options: NmeaOptions): Record<string, unknown> | NmeaSkip | NmeaError {
  const line = text.trim();
  const first = line.charCodeAt(0);
  if (first !== 36 /* $ */ && first !== 33 /* ! */) return new NmeaError('not an NMEA sentence (no leading $)');
  const star = line.lastIndexOf('*');
  if (star < 0) return new NmeaError('NMEA sentence has no checksum (*hh)');
  const given = line.slice(star + 1).toUpperCase();
  if (given.length !== 2 || HEX.indexOf(given[0]!) < 0 || HEX.indexOf(given[1]!) < 0) {
    return new NmeaError(`NMEA checksum '${line.slice(star + 1)}' is not two hex digits`);
  }
  let sum = 0;
  for (let i = 1; i < star; i++) {
    const c = line.charCodeAt(i);
    if (c < 0x20 || c > 0x7e) return new NmeaError('NMEA sentence holds a non-printable character');
    sum ^= c;
  }
  const expected = HEX[sum >> 4]! + HEX[sum & 15]!;
  if (expected !== given) return new NmeaError(`NMEA checksum mismatch: sentence says ${given}, computed ${expected}`);

  const f = line.slice(1, star).split(',');
  const address = f[0]!;
  // Proprietary sentences ($PGRME...) have no talker; they are never in the list.
  const type = address.length === 5 ? address.slice(2) : address;
  if (!(options.sentences as readonly string[]).includes(type)) return new NmeaSkip(`sentence ${address} is not in nmea.sentences`);
  const talker = address.slice(0, 2);
  return type === 'GGA' ? gga(f, talker, receivedAt, options.requireFix) : rmc(f, talker, options.requireFix);
}

function gga(f: string[], talker: string, receivedAt: number, requireFix: boolean): Record<string, unknown> | NmeaSkip | NmeaError {
  if (f.length < 15) return new NmeaError(`GGA sentence has ${f.length - 1} fields, expected 14`);
  const quality = intField(f[6]!);
  if (quality === null) return new NmeaError(`GGA fix quality '${f[6]}' is not a number`);
  if (quality === 0 && requireFix) return new NmeaSkip('GGA without a fix (quality 0)');
  const tod = timeOfDay(f[1]!);
  if (typeof tod === 'string') return new NmeaError(`GGA ${tod}`);
  const out: Record<string, unknown> = Object.create(null);
  out.sentence = 'GGA';
  out.talker = talker;
  out.time = new Date(nearestDay(tod, receivedAt)).toISOString();
  const pos = position(f[2]!, f[3]!, f[4]!, f[5]!, out);
  if (pos !== null) return new NmeaError(`GGA ${pos}`);
  out.fix_quality = quality;
  const bad = numbers(out, [['satellites', f[7]!], ['hdop', f[8]!], ['alt', f[9]!], ['geoid_sep', f[11]!]]);
  return bad === null ? out : new NmeaError(`GGA ${bad}`);
}

function rmc(f: string[], talker: string, requireFix: boolean): Record<string, unknown> | NmeaSkip | NmeaError {
  if (f.length < 12) return new NmeaError(`RMC sentence has ${f.length - 1} fields, expected at least 11`);
  const status = f[2]!;
  if (status !== 'A' && status !== 'V') return new NmeaError(`RMC status '${status}' is neither A nor V`);
  if (status === 'V' && requireFix) return new NmeaSkip('RMC without a fix (status V)');
  const tod = timeOfDay(f[1]!);
  if (typeof tod === 'string') return new NmeaError(`RMC ${tod}`);
  const date = /^(\d\d)(\d\d)(\d\d)$/.exec(f[9]!);
  if (date === null) return new NmeaError(`RMC date '${f[9]}' is not ddmmyy`);
  const [day, month, yy] = [Number(date[1]), Number(date[2]), Number(date[3])];
  const midnight = Date.UTC(yy >= 80 ? 1900 + yy : 2000 + yy, month - 1, day);
  if (month < 1 || month > 12 || day < 1 || new Date(midnight).getUTCDate() !== day) return new NmeaError(`RMC date '${f[9]}' is not a valid date`);
  const out: Record<string, unknown> = Object.create(null);
  out.sentence = 'RMC';
  out.talker = talker;
  out.time = new Date(midnight + tod).toISOString();
  out.status = status;
  const pos = position(f[3]!, f[4]!, f[5]!, f[6]!, out);
  if (pos !== null) return new NmeaError(`RMC ${pos}`);
  const bad = numbers(out, [['speed_knots', f[7]!], ['course', f[8]!]]);
  if (bad !== null) return new NmeaError(`RMC ${bad}`);
  if (typeof out.speed_knots === 'number') out.speed_kmh = round(out.speed_knots * KNOT_KMH, 6);
  if (f[10] !== '') {
    const v = decimal(f[10]!);
    if (v === null || (f[11] !== 'E' && f[11] !== 'W')) return new NmeaError(`RMC magnetic variation '${f[10]},${f[11]}' is invalid`);
    out.mag_var = f[11] === 'W' ? -v : v;
  }
  return out;
}

/** `hhmmss[.sss]` -> ms since midnight, or a reason. */
function timeOfDay(s: string): number | string {
  const m = /^(\d\d)(\d\d)(\d\d(?:\.\d+)?)$/.exec(s);
  if (m === null) return `time '${s}' is not hhmmss.ss`;
  const h = Number(m[1]);
  const min = Number(m[2]);
  const sec = Number(m[3]);
  if (h > 23 || min > 59 || sec >= 61) return `time '${s}' is out of range`;
  return h * 3_600_000 + min * 60_000 + Math.round(sec * 1000);
}

/** The instant at `tod` (ms after midnight UTC) nearest to `receivedAt`: handles midnight rollover. */
function nearestDay(tod: number, receivedAt: number): number {
  const midnight = Math.floor(receivedAt / DAY_MS) * DAY_MS;
  const at = midnight + tod;
  if (at - receivedAt > DAY_MS / 2) return at - DAY_MS;
  if (receivedAt - at > DAY_MS / 2) return at + DAY_MS;
  return at;
}

/** Sets lat/lon in decimal degrees (both or neither); returns a reason when malformed. */
function position(lat: string, ns: string, lon: string, ew: string, out: Record<string, unknown>): string | null {
  if (lat === '' && lon === '') return null;
  const la = degrees(lat, 2);
  const lo = degrees(lon, 3);
  if (la === null || la > 90 || (ns !== 'N' && ns !== 'S')) return `latitude '${lat},${ns}' is invalid`;
  if (lo === null || lo > 180 || (ew !== 'E' && ew !== 'W')) return `longitude '${lon},${ew}' is invalid`;
  out.lat = ns === 'S' ? -la : la;
  out.lon = ew === 'W' ? -lo : lo;
  return null;
}

/** `ddmm.mmmm` (`dddmm.mmmm` for longitude) -> decimal degrees, rounded to 9 places (below a millimetre). */
function degrees(s: string, degDigits: number): number | null {
  if (!/^\d+(?:\.\d+)?$/.test(s)) return null;
  const dot = s.indexOf('.');
  const intLen = dot < 0 ? s.length : dot;
  if (intLen !== degDigits + 2) return null;
  const minutes = Number(s.slice(degDigits));
  if (minutes >= 60) return null;
  return round(Number(s.slice(0, degDigits)) + minutes / 60, 9);
}

/** Sets each non-empty numeric field; returns a reason for the first that is not a number. */
function numbers(out: Record<string, unknown>, fields: Array<[string, string]>): string | null {
  for (const [name, text] of fields) {
    if (text === '') continue;
    const v = decimal(text);
    if (v === null) return `${name} '${text}' is not a number`;
    out[name] = v;
  }
  return null;
}

function decimal(s: string): number | null {
  return /^-?\d+(?:\.\d+)?$/.test(s) ? Number(s) : null;
}

function intField(s: string): number | null {
  return /^\d+$/.test(s) ? Number(s) : null;
}

/** Rounds to `places` decimals, giving the double nearest to the decimal result. */
function round(v: number, places: number): number {
  return Number(v.toFixed(places));
}

/** `*hh` checksum of the text between `$` and `*` (for tests and device simulators). */
export function nmeaChecksum(body: string): string {
  let sum = 0;
  for (let i = 0; i < body.length; i++) sum ^= body.charCodeAt(i);
  return HEX[sum >> 4]! + HEX[sum & 15]!;
}
