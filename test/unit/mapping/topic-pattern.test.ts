import { describe, expect, it } from 'vitest';
import { compileTopicPattern, filterCovers, TopicPattern } from '../../../src/mapping/topic-pattern.js';

function compiled(source: string): TopicPattern {
  const p = compileTopicPattern(source);
  if (!(p instanceof TopicPattern)) throw new Error(p.problems.join('; '));
  return p;
}

function capture(source: string, topic: string): Record<string, string> | null {
  const p = compiled(source);
  const caps: string[] = [];
  if (!p.match(topic.split('/'), caps)) return null;
  return Object.fromEntries(p.names.map((n, i) => [n, caps[i]!]));
}

describe('topic patterns', () => {
  it('turns named wildcards into + and # for the subscription', () => {
    expect(compiled('sensors/{site}/{device}/telemetry').filter).toBe('sensors/+/+/telemetry');
    expect(compiled('sensors/+/{rest#}').filter).toBe('sensors/+/#');
    expect(compiled('sensors/#').filter).toBe('sensors/#');
    expect(compiled('$share/edge/sensors/{device}/x').filter).toBe('$share/edge/sensors/+/x');
  });

  it('captures named levels and ignores anonymous ones', () => {
    expect(capture('sensors/{site}/{device}/telemetry', 'sensors/plant-3/th-1/telemetry')).toEqual({ site: 'plant-3', device: 'th-1' });
    expect(capture('sensors/+/{device}', 'sensors/x/d1')).toEqual({ device: 'd1' });
    expect(capture('sensors/{site}/{device}/telemetry', 'sensors/plant-3/th-1/status')).toBeNull();
    expect(capture('sensors/{site}/{device}/telemetry', 'sensors/plant-3/telemetry')).toBeNull();
    expect(capture('sensors/{site}/{device}/telemetry', 'sensors/plant-3/th-1/telemetry/extra')).toBeNull();
  });

  it('captures a multi-level tail joined with / and the empty tail of the parent level', () => {
    expect(capture('logs/{path#}', 'logs/a/b/c')).toEqual({ path: 'a/b/c' });
    expect(capture('logs/{path#}', 'logs/a')).toEqual({ path: 'a' });
    expect(capture('logs/{path#}', 'logs')).toEqual({ path: '' });
    expect(capture('logs/#', 'logs/a/b')).toEqual({});
    expect(capture('logs/#', 'other/a')).toBeNull();
  });

  it('matches shared subscriptions without their prefix', () => {
    expect(capture('$share/edge/sensors/{device}/x', 'sensors/a/x')).toEqual({ device: 'a' });
    expect(capture('$share/edge/sensors/{device}/x', '$share/edge/sensors/a/x')).toBeNull();
  });

  it('keeps leading wildcards away from $ topics, as MQTT does', () => {
    expect(capture('#', '$SYS/broker/uptime')).toBeNull();
    expect(capture('+/broker/uptime', '$SYS/broker/uptime')).toBeNull();
    expect(capture('$SYS/{rest#}', '$SYS/broker/uptime')).toEqual({ rest: 'broker/uptime' });
    expect(capture('#', 'a/b')).toEqual({});
  });

  it('reports every problem of a filter', () => {
    expect(compileTopicPattern('a/{x}/{x}/b#/{y#}/c')).toEqual({
      problems: [
        "'a/{x}/{x}/b#/{y#}/c': wildcard name 'x' is used twice",
        "'a/{x}/{x}/b#/{y#}/c': level 'b#' mixes text with a wildcard; a wildcard must fill a whole level",
        "'a/{x}/{x}/b#/{y#}/c': '{y#}' must be the last level",
      ],
      names: ['x'],
    });
    expect(compileTopicPattern('')).toEqual({ problems: ['topic must not be empty'], names: [] });
    expect(compileTopicPattern('a/{1x}/{ok}')).toEqual({
      problems: ["'a/{1x}/{ok}': wildcard name '1x' must be letters, digits and '_', not starting with a digit"],
      names: ['ok'],
    });
    expect(compileTopicPattern('$share/g')).toEqual({ problems: ["'$share/g': a shared subscription needs a filter after $share/<group>/"], names: [] });
  });
});

describe('filter coverage', () => {
  it('knows when one subscription already receives everything another would', () => {
    expect(filterCovers('sensors/#', 'sensors/+/x')).toBe(true);
    expect(filterCovers('sensors/#', 'sensors')).toBe(true);
    expect(filterCovers('sensors/+/x', 'sensors/a/x')).toBe(true);
    expect(filterCovers('sensors/+/x', 'sensors/#')).toBe(false);
    expect(filterCovers('sensors/+', 'sensors/+/x')).toBe(false);
    expect(filterCovers('sensors/+/#', 'sensors')).toBe(false);
    expect(filterCovers('#', '$SYS/x')).toBe(false);
    expect(filterCovers('#', 'a/b')).toBe(true);
  });
});
