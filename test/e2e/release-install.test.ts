/**
 * The install path as a gateway takes it: the release tarball (`scripts/pack-release.mjs`,
 * what `npm run release` runs after the build) installs with `npm install -g` offline (no
 * registry, no download: dependencies are bundled, better-sqlite3's binary comes as a local
 * prebuild), and the installed agent checks the installed example config, loads its native
 * modules, and its installed unit passes `systemd-analyze verify`.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { REPO_ROOT } from '../helpers/readme.js';
import { tempDir } from '../helpers/tmp.js';

const EXEC_START = 'ExecStart=fluxion-edge run --config /etc/fluxion-edge/config.yaml';

describe('release tarball, installed offline (npm install -g --offline)', () => {
  const dir = tempDir();
  afterAll(() => dir.cleanup());

  it('packs, installs without the registry, checks the example config, loads native modules, verifies the unit', () => {
    const version = (JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as { version: string }).version;
    const tgz = execFileSync(process.execPath, [join(REPO_ROOT, 'scripts', 'pack-release.mjs'), '--out', dir.path], { encoding: 'utf8' }).trim();
    expect(tgz).toBe(join(dir.path, `fluxion-edge-${version}.tgz`));

    const prefix = join(dir.path, 'prefix');
    const install = spawnSync('npm', ['install', '-g', '--prefix', prefix, '--offline', '--no-audit', '--no-fund', tgz], { encoding: 'utf8', timeout: 240_000 });
    expect({ status: install.status, stderr: install.stderr }).toMatchObject({ status: 0 });
    const pkg = join(prefix, 'lib', 'node_modules', 'fluxion-edge');
    const bin = join(prefix, 'bin', 'fluxion-edge');
    for (const f of ['dist/cli/main.js', 'systemd/fluxion-edge.service', 'config.example.yaml', 'config.schema.json', 'docs/configuration.md']) {
      expect({ f, there: existsSync(join(pkg, f)) }).toEqual({ f, there: true });
    }
    // better-sqlite3 took the bundled local prebuild: nothing was compiled.
    expect(existsSync(join(pkg, 'node_modules', 'better-sqlite3', 'build', 'Release', 'obj.target'))).toBe(false);

    expect(execFileSync(bin, ['--version'], { encoding: 'utf8' }).trim()).toBe(version);
    const check = spawnSync(bin, ['check', '--config', join(pkg, 'config.example.yaml')], {
      encoding: 'utf8',
      env: { ...process.env, FLUXION_API_KEY: 'key', MQTT_PASSWORD: 'password' },
    });
    expect({ status: check.status, stderr: check.stderr }).toEqual({ status: 0, stderr: '' });
    expect(check.stdout).toContain('gateway:\n  id: gw-plant-3\n');

    // The native modules of the installed tree load and work.
    const probe = spawnSync(
      process.execPath,
      ['--input-type=module', '-e', `
        import { createRequire } from 'node:module';
        const require = createRequire(${JSON.stringify(join(pkg, 'package.json'))});
        const db = new (require('better-sqlite3'))(':memory:');
        // serialport's binding, as its loader finds it (a prebuild in the package).
        const binding = require('node-gyp-build')(${JSON.stringify(join(pkg, 'node_modules', '@serialport', 'bindings-cpp'))});
        if (typeof binding.open !== 'function') throw new Error('no serialport binding');
        console.log(db.prepare('select 40 + 2 as n').get().n);`],
      { encoding: 'utf8' },
    );
    expect({ status: probe.status, stdout: probe.stdout.trim(), stderr: probe.stderr }).toEqual({ status: 0, stdout: '42', stderr: '' });

    // The installed unit, with ExecStart pointed at the installed program (on a gateway it is
    // found in /usr/local/bin or /usr/bin, which systemd searches).
    const unit = readFileSync(join(pkg, 'systemd', 'fluxion-edge.service'), 'utf8');
    expect(unit).toContain(EXEC_START);
    const copy = join(dir.path, 'fluxion-edge.service');
    writeFileSync(copy, unit.replace(EXEC_START, `ExecStart=${bin} run --config /etc/fluxion-edge/config.yaml`));
    const verify = spawnSync('systemd-analyze', ['verify', copy], { encoding: 'utf8' });
    if (verify.error !== undefined) throw new Error(`systemd-analyze not runnable (scripts/install-test-deps.sh installs it): ${verify.error.message}`);
    expect({ status: verify.status, stderr: verify.stderr }).toEqual({ status: 0, stderr: '' });
  }, 300_000);
});
