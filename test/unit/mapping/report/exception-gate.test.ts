import { describe, expect, it } from 'vitest';
import { ExceptionGate, isSend, type Decision } from '../../../../src/mapping/report/exception-gate.js';
import { compileReport, type ReportSpec } from '../../../../src/mapping/report/spec.js';

const S = 1000;

function run(spec: ReportSpec, readings: Array<[number, Record<string, unknown>]>, maxDocs?: number): Decision[] {
  const gate = new ExceptionGate(compileReport(spec), maxDocs);
  return readings.map(([t, d]) => gate.decide('d1', t, d));
}

describe('ExceptionGate', () => {
  it('sends the first reading, then only changes beyond an absolute deadband', () => {
    const values = [20, 20.1, 20.2, 20.21, 20.3, 20.0, 19.99, 19.99];
    const d = run({ deadband: { t: 0.2 } }, values.map((v, i) => [i * S, { t: v }]));
    // 20.2 is exactly 0.2 from 20: not "more than" the band. 20.21 is. 20.0 is 0.21 below 20.21.
    expect(d).toEqual(['first', 'unchanged', 'unchanged', 'change', 'unchanged', 'change', 'unchanged', 'unchanged']);
  });

  it('a percent deadband is relative to the last sent value', () => {
    const d = run({ deadband: { level: '1%' } }, [
      [0, { level: 200 }],
      [S, { level: 201.9 }], // 0.95 % of 200
      [2 * S, { level: 202.5 }], // 1.25 %
      [3 * S, { level: 200.5 }], // 0.99 % of 202.5
      [4 * S, { level: 200.4 }], // 1.04 % of 202.5
    ]);
    expect(d).toEqual(['first', 'unchanged', 'change', 'unchanged', 'change']);
  });

  it('booleans and strings change on any difference; a field that appears or disappears is a change', () => {
    const d = run({}, [
      [0, { on: true, mode: 'auto' }],
      [S, { on: true, mode: 'auto' }],
      [2 * S, { on: false, mode: 'auto' }],
      [3 * S, { on: false, mode: 'manual' }],
      [4 * S, { on: false, mode: 'manual', alarm: 'hi' }],
      [5 * S, { on: false, mode: 'manual' }],
      [6 * S, { on: false, mode: 'manual' }],
    ]);
    expect(d).toEqual(['first', 'unchanged', 'change', 'change', 'change', 'change', 'unchanged']);
  });

  it('only the listed fields are compared', () => {
    const d = run({ fields: ['t'] }, [
      [0, { t: 1, seq: 1 }],
      [S, { t: 1, seq: 2 }],
      [2 * S, { t: 2, seq: 3 }],
    ]);
    expect(d).toEqual(['first', 'unchanged', 'change']);
  });

  it('max_interval sends a heartbeat of an unchanged signal; a gap longer than it sends the next reading', () => {
    const readings: Array<[number, Record<string, unknown>]> = [];
    for (let t = 0; t <= 12; t++) readings.push([t * S, { t: 5 }]);
    readings.push([40 * S, { t: 5 }]); // 28 s silence, max_interval 5 s
    readings.push([41 * S, { t: 5 }]);
    const d = run({ max_interval: 5 * S }, readings);
    expect(d.map((x, i) => (isSend(x) ? `${readings[i]![0] / S}:${x}` : null)).filter(Boolean)).toEqual([
      '0:first', '5:heartbeat', '10:heartbeat', '40:gap',
    ]);
  });

  it('min_interval holds changes back; the change still goes once the interval passed', () => {
    const d = run({ min_interval: 3 * S }, [
      [0, { t: 1 }],
      [S, { t: 2 }],
      [2 * S, { t: 2 }],
      [3 * S, { t: 2 }],
      [4 * S, { t: 2 }],
    ]);
    expect(d).toEqual(['first', 'min_interval', 'min_interval', 'change', 'unchanged']);
  });

  it('on_change false with min_interval samples one reading per interval', () => {
    const d = run({ on_change: false, min_interval: 2 * S }, [0, 1, 2, 3, 4, 5].map((t) => [t * S, { t }] as [number, Record<string, unknown>]));
    expect(d).toEqual(['first', 'min_interval', 'interval', 'min_interval', 'interval', 'min_interval']);
  });

  it('a late reading is judged on its values and leaves the state alone', () => {
    const gate = new ExceptionGate(compileReport({ deadband: { t: 1 } }));
    expect(gate.decide('d', 10 * S, { t: 10 })).toBe('first');
    expect(gate.decide('d', 5 * S, { t: 10.5 })).toBe('late_unchanged');
    expect(gate.decide('d', 6 * S, { t: 20 })).toBe('late_change');
    // The state still holds t=10 sent at 10 s.
    expect(gate.decide('d', 11 * S, { t: 10.9 })).toBe('unchanged');
  });

  it('a forgotten document (back online, or pushed out by the memory bound) sends its next reading', () => {
    const gate = new ExceptionGate(compileReport({}), 2);
    gate.decide('a', 0, { t: 1 });
    gate.decide('b', 0, { t: 1 });
    expect(gate.decide('a', S, { t: 1 })).toBe('unchanged');
    gate.decide('c', 0, { t: 1 }); // evicts 'a', the oldest
    expect(gate.evicted).toBe(1);
    expect(gate.decide('a', 2 * S, { t: 1 })).toBe('first');
    gate.forget('c');
    expect(gate.decide('c', 2 * S, { t: 1 })).toBe('first');
  });

  it('a source that came back (a serial port reopened) has the next reading of each of its documents sent', () => {
    const gate = new ExceptionGate(compileReport({}));
    gate.decide('a', 0, { t: 1 }, 'ttyUSB0');
    gate.decide('b', 0, { t: 1 }, 'ttyUSB1');
    expect(gate.forgetOrigin('ttyUSB0')).toBe(1);
    expect(gate.decide('a', S, { t: 1 }, 'ttyUSB0')).toBe('first');
    expect(gate.decide('b', S, { t: 1 }, 'ttyUSB1')).toBe('unchanged');
  });
});
