#!/usr/bin/env node
// Makes the release tarball that a gateway installs without the npm registry:
//
//   npm run release                                # builds, then writes ./fluxion-edge-<version>.tgz
//   node scripts/pack-release.mjs [--out DIR] [--prebuilds DIR]   # packs the current dist/
//
// It is `npm pack` of the built package (dist/, the systemd unit, the example config, the
// config schema and reference, the README) with its production dependencies bundled, at the
// versions of package-lock.json: `npm install -g ./fluxion-edge-<version>.tgz` then fetches
// nothing. Native modules:
// - serialport (@serialport/bindings-cpp) and bufferutil ship prebuilt binaries inside their
//   packages (serialport: linux x64, arm64 (armv8), arm (armv6, armv7); glibc and musl).
// - better-sqlite3 downloads a prebuilt binary at install time, or compiles itself. The
//   tarball carries, as a "local prebuild" its installer finds offline, the binary built here
//   (this machine's platform and arch, this Node's ABI), plus every
//   better-sqlite3-v<version>-node-v<abi>-<platform>-<arch>.tar.gz found in --prebuilds DIR
//   (e.g. linux-arm64 and linux-arm for Raspberry Pis, from better-sqlite3's release page).
//   Elsewhere it downloads one (online) or compiles from the bundled sources (python3, make,
//   g++ and the Node headers).
//
// The package is staged in a temporary directory: the working tree is never changed.
import { execFileSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const option = (name) => {
  const i = process.argv.indexOf(name);
  return i > 0 ? resolve(process.argv[i + 1]) : undefined;
};
const out = option('--out') ?? root;
const extraPrebuilds = option('--prebuilds');

if (!existsSync(join(root, 'dist', 'cli', 'main.js'))) {
  console.error('pack-release: dist/ is not built (npm run build first, or npm run release)');
  process.exit(1);
}

/** Files of bundled packages that nothing loads at run time: TypeScript sources and types, source maps, docs. */
const DEV_ONLY = /\.(?:[mc]?ts|map|md)$/;

const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
const lock = JSON.parse(readFileSync(join(root, 'package-lock.json'), 'utf8'));
const stage = mkdtempSync(join(tmpdir(), 'fluxion-edge-pack-'));
try {
  const files = [...pkg.files];
  // What an installed package needs: no dev dependencies, no scripts that need the sources.
  delete pkg.devDependencies;
  delete pkg.scripts;
  pkg.bundleDependencies = [...Object.keys(pkg.dependencies ?? {}), ...Object.keys(pkg.optionalDependencies ?? {})];
  writeFileSync(join(stage, 'package.json'), `${JSON.stringify(pkg, null, 2)}\n`);
  for (const entry of files) cpSync(join(root, entry), join(stage, entry), { recursive: true });

  // The production packages of the lockfile, as installed here (nested ones come with their parent).
  const production = Object.entries(lock.packages)
    .filter(([path, entry]) => path !== '' && entry.dev !== true && !path.includes('/node_modules/', 'node_modules/'.length))
    .map(([path]) => path);
  for (const path of production) {
    if (!existsSync(join(root, path))) continue; // an optional package not installed on this platform
    // better-sqlite3's build/ is replaced by the local prebuild below (its objects weigh 20 MB).
    const skipBuild = path === 'node_modules/better-sqlite3';
    cpSync(join(root, path), join(stage, path), {
      recursive: true,
      filter: (src) => !(skipBuild && src.startsWith(join(root, path, 'build'))) && !DEV_ONLY.test(src),
    });
  }
  addSqlitePrebuilds(join(stage, 'node_modules', 'better-sqlite3'));

  const name = execFileSync('npm', ['pack', '--ignore-scripts', '--silent', '--pack-destination', out], { cwd: stage, encoding: 'utf8' }).trim();
  console.log(join(out, name.split('\n').at(-1)));
} finally {
  rmSync(stage, { recursive: true, force: true });
}

/**
 * better-sqlite3's installer (prebuild-install) looks in <package>/prebuilds/ before
 * downloading. npm packs a bundled package by its own `files` list, which leaves that folder
 * out: the staged copy's list names it.
 */
function addSqlitePrebuilds(dir) {
  const manifest = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'));
  const version = manifest.version;
  if (Array.isArray(manifest.files) && !manifest.files.includes('prebuilds/**')) {
    manifest.files.push('prebuilds/**');
    writeFileSync(join(dir, 'package.json'), `${JSON.stringify(manifest, null, 2)}\n`);
  }
  const prebuilds = join(dir, 'prebuilds');
  mkdirSync(prebuilds, { recursive: true });
  const here = `better-sqlite3-v${version}-node-v${process.versions.modules}-${process.platform}-${process.arch}.tar.gz`;
  const built = join(root, 'node_modules', 'better-sqlite3');
  execFileSync('tar', ['czf', join(prebuilds, here), '-C', built, 'build/Release/better_sqlite3.node']);
  if (extraPrebuilds === undefined) return;
  for (const f of readdirSync(extraPrebuilds)) {
    if (f.startsWith(`better-sqlite3-v${version}-`) && f.endsWith('.tar.gz') && f !== here) cpSync(join(extraPrebuilds, f), join(prebuilds, f));
  }
}
