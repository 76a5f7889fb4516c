// Budget checks, run after `npm run build`; exit 1 when over budget.
// 1. The first page (the index.html entry chunk and every chunk it imports statically):
//    at most 300 KB of gzipped JavaScript.
// 2. A cold visit of the overview, counted as the server sends it (the pre-compressed
//    brotli variant where there is one, see scripts/compress.mjs): index.html, the entry
//    and its imports, the overview page (its bars are HTML: ECharts loads only with the
//    lots page's timeline) and all their CSS; at most 250 KB.
import { existsSync, readFileSync, statSync } from 'node:fs';
import { gzipSync } from 'node:zlib';

const BUDGET = 300 * 1024;
const dist = new URL('../dist/', import.meta.url);
const manifest = JSON.parse(readFileSync(new URL('.vite/manifest.json', dist), 'utf8'));

function walk(key, seen) {
  if (seen.has(key)) return;
  seen.add(key);
  for (const next of manifest[key]?.imports ?? []) walk(next, seen);
}

const gz = (file) => gzipSync(readFileSync(new URL(file, dist)), { level: 9 }).length;
const kb = (n) => `${(n / 1024).toFixed(1)} KB`;

function report(entry) {
  const seen = new Set();
  walk(entry, seen);
  const chunks = [...seen].map((k) => manifest[k]);
  const js = chunks.map((c) => ({ file: c.file, gzip: gz(c.file) })).sort((a, b) => b.gzip - a.gzip);
  const css = chunks.flatMap((c) => c.css ?? []);
  const cssGzip = [...new Set(css)].reduce((sum, f) => sum + gz(f), 0);
  const total = js.reduce((sum, c) => sum + c.gzip, 0);
  return { js, total, cssGzip };
}

const entry = Object.keys(manifest).find((k) => manifest[k].isEntry && k.endsWith('index.html'));
if (!entry) {
  console.error('size: no index.html entry in dist/.vite/manifest.json (run `npm run build` first)');
  process.exit(1);
}
const first = report(entry);
console.log('First page (index.html entry + static imports), gzip:');
for (const c of first.js) console.log(`  ${kb(c.gzip).padStart(9)}  ${c.file}`);
console.log(`  JS total ${kb(first.total)} of ${kb(BUDGET)} budget; CSS ${kb(first.cssGzip)}`);

const lazy = Object.keys(manifest).filter((k) => manifest[k].isDynamicEntry && k.startsWith('src/'));
const biggest = lazy
  .map((k) => ({ name: k, gzip: report(k).js.reduce((s, c) => s + (first.js.some((f) => f.file === c.file) ? 0 : c.gzip), 0) }))
  .sort((a, b) => b.gzip - a.gzip)
  .slice(0, 5);
console.log('Largest lazy routes/chunks (gzip, beyond the first page):');
for (const b of biggest) console.log(`  ${kb(b.gzip).padStart(9)}  ${b.name}`);
const graphiql = Object.keys(manifest).find((k) => manifest[k].isEntry && k.endsWith('graphiql.html'));
if (graphiql) console.log(`GraphiQL page (separate entry): JS ${kb(report(graphiql).total)} gzip`);

// What the server sends for a file: its brotli variant when the build made one.
const sent = (file) => {
  const path = new URL(file, dist);
  const br = new URL(`${file}.br`, dist);
  return statSync(existsSync(br) ? br : path).size;
};
const COLD_OVERVIEW_BUDGET = 250 * 1024;
const coldKeys = new Set();
for (const key of [entry, 'src/pages/overview/dashboard/index.vue']) {
  if (!manifest[key]) {
    console.error(`size: ${key} is not in the manifest`);
    process.exit(1);
  }
  walk(key, coldKeys);
}
const coldFiles = new Set(['index.html']);
for (const key of coldKeys) {
  coldFiles.add(manifest[key].file);
  for (const css of manifest[key].css ?? []) coldFiles.add(css);
}
const cold = [...coldFiles].reduce((sum, file) => sum + sent(file), 0);
console.log(`Cold overview, as sent (brotli): ${kb(cold)} in ${coldFiles.size} files, budget ${kb(COLD_OVERVIEW_BUDGET)}`);

if (cold > COLD_OVERVIEW_BUDGET) {
  console.error(`size: a cold overview sends ${kb(cold)}, over the ${kb(COLD_OVERVIEW_BUDGET)} budget`);
  process.exit(1);
}
if (first.total > BUDGET) {
  console.error(`size: first page JS is ${kb(first.total)} gzip, over the ${kb(BUDGET)} budget`);
  process.exit(1);
}
