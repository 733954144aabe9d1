// `npm run bench`: every benchmark in turn, each in a process of its own (so that memory and
// CPU readings are its own), each printing one line of results with ratios against a
// baseline measured in the same run (these machines are noisy; absolute numbers from another
// day mean little). `npm run bench -- NAME` runs the ones whose file name contains NAME.
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const only = process.argv[2];
const dir = new URL('.', import.meta.url);
const files = readdirSync(dir).filter((f) => f.endsWith('.bench.mjs') && (!only || f.includes(only))).sort();
let failed = 0;
for (const f of files) {
  const t0 = performance.now();
  const r = spawnSync(process.execPath, [fileURLToPath(new URL(f, dir))], { stdio: 'inherit' });
  if (r.status !== 0) failed++;
  console.log(`  (${f} took ${((performance.now() - t0) / 1000).toFixed(1)} s${r.status === 0 ? '' : `, exit ${r.status}`})`);
}
process.exitCode = failed === 0 ? 0 : 1;
