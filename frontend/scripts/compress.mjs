// Pre-compress the built console (gzip and brotli, at their strongest) so the server
// sends compressed bytes without compressing per request. A variant is kept only
// when it is smaller than the file itself. Run by `npm run build` after `vite build`.
import { readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { brotliCompressSync, constants, gzipSync } from 'node:zlib';

const dist = new URL('../dist/', import.meta.url).pathname;
const COMPRESSIBLE = /\.(js|mjs|css|html|svg|json|txt|map|wasm)$/;

function* files(dir) {
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) yield* files(path);
    else if (COMPRESSIBLE.test(name)) yield path;
  }
}

let raw = 0;
let br = 0;
for (const path of files(dist)) {
  const data = readFileSync(path);
  const variants = {
    '.gz': gzipSync(data, { level: 9 }),
    '.br': brotliCompressSync(data, {
      params: {
        [constants.BROTLI_PARAM_QUALITY]: constants.BROTLI_MAX_QUALITY,
        [constants.BROTLI_PARAM_SIZE_HINT]: data.length,
      },
    }),
  };
  raw += data.length;
  br += Math.min(data.length, variants['.br'].length);
  for (const [suffix, bytes] of Object.entries(variants)) {
    if (bytes.length < data.length) writeFileSync(path + suffix, bytes);
  }
}
console.log(`compressed: ${(raw / 1024).toFixed(0)} KB raw -> ${(br / 1024).toFixed(0)} KB brotli`);
