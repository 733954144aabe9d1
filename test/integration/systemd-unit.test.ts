/**
 * The shipped unit file: `systemd-analyze verify` accepts it, and it carries the directives
 * the service depends on. verify also checks that ExecStart's program exists; the unit names
 * `fluxion-edge`, which is not installed here, so the check runs on a copy in a temp dir whose
 * ExecStart runs this Node on the built CLI with the same arguments (only that line differs).
 */
import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CLI } from '../helpers/cli.js';
import { tempDir } from '../helpers/tmp.js';

const UNIT = fileURLToPath(new URL('../../systemd/fluxion-edge.service', import.meta.url));
const EXEC_START = 'ExecStart=fluxion-edge run --config /etc/fluxion-edge/config.yaml';

/** Directive lines of one section, `Key=value`, comments left out. */
function section(text: string, name: string): string[] {
  const lines = text.split('\n');
  const start = lines.indexOf(`[${name}]`);
  if (start < 0) return [];
  const out: string[] = [];
  for (const l of lines.slice(start + 1)) {
    if (l.startsWith('[')) break;
    if (l.trim() !== '' && !l.startsWith('#')) out.push(l);
  }
  return out;
}

describe('systemd/fluxion-edge.service', () => {
  const text = readFileSync(UNIT, 'utf8');

  it('passes systemd-analyze verify (ExecStart pointed at an existing program for the check)', () => {
    expect(text.split('\n').filter((l) => l.startsWith('ExecStart='))).toEqual([EXEC_START]);
    const dir = tempDir();
    try {
      const copy = join(dir.path, 'fluxion-edge.service');
      writeFileSync(copy, text.replace(EXEC_START, `ExecStart=${process.execPath} ${CLI} run --config /etc/fluxion-edge/config.yaml`));
      const r = spawnSync('systemd-analyze', ['verify', copy], { encoding: 'utf8' });
      if (r.error !== undefined) throw new Error(`systemd-analyze not runnable (scripts/install-test-deps.sh installs it): ${r.error.message}`);
      expect({ status: r.status, stderr: r.stderr }).toEqual({ status: 0, stderr: '' });
    } finally {
      dir.cleanup();
    }
  });

  it('declares readiness, restart, user, directories and hardening as the agent needs them', () => {
    const service = section(text, 'Service');
    for (const line of [
      'Type=notify',
      'NotifyAccess=all',
      EXEC_START,
      'ExecReload=/bin/kill -HUP $MAINPID',
      'Restart=always',
      'RestartSec=5s',
      'RestartPreventExitStatus=78',
      'TimeoutStopSec=30s',
      'KillMode=mixed',
      'WatchdogSec=2min',
      'DynamicUser=yes',
      'SupplementaryGroups=dialout',
      'StateDirectory=fluxion-edge',
      'ConfigurationDirectory=fluxion-edge',
      'NoNewPrivileges=yes',
      'ProtectSystem=strict',
      'ProtectHome=yes',
      'PrivateTmp=yes',
      'RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6',
      'CapabilityBoundingSet=',
      'SystemCallFilter=@system-service',
    ]) {
      expect(service).toContain(line);
    }
    // Each of these would hide the serial ports or break V8's JIT.
    for (const key of ['MemoryDenyWriteExecute', 'PrivateDevices', 'DevicePolicy', 'ProtectClock', 'PrivateUsers']) {
      expect(service.filter((l) => l.startsWith(`${key}=`))).toEqual([]);
    }
    expect(section(text, 'Unit')).toContain('StartLimitIntervalSec=0');
    expect(section(text, 'Install')).toEqual(['WantedBy=multi-user.target']);
  });

  it('stops later than the agent drains: TimeoutStopSec is above the default sender.stop_deadline (10s)', () => {
    const timeout = /^TimeoutStopSec=(\d+)s$/m.exec(text);
    expect(Number(timeout?.[1])).toBeGreaterThan(10);
  });
});
