// `npm run bench`: every benchmark in turn, each printing one line of results with ratios
// against a baseline measured in the same run (these machines are noisy; absolute numbers
// from another day mean little). `npm run bench -- NAME` runs the ones whose name contains NAME.
import { readdirSync } from 'node:fs';

const only = process.argv[2];
const files = readdirSync(new URL('.', import.meta.url)).filter((f) => f.endsWith('.bench.mjs') && (!only || f.includes(only))).sort();
for (const f of files) {
  const mod = await import(new URL(f, import.meta.url));
  const t0 = performance.now();
  await mod.main();
  console.log(`  (${f} took ${((performance.now() - t0) / 1000).toFixed(1)} s)`);
}
