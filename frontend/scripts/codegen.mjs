// Regenerate src/api/generated from ../schema.graphql (validating every operation against it).
// The folder is wiped first so a removed operation leaves no stale types behind.
import { spawnSync } from 'node:child_process';
import { rmSync } from 'node:fs';

rmSync(new URL('../src/api/generated', import.meta.url), { recursive: true, force: true });
const run = spawnSync('graphql-codegen', ['--config', 'codegen.ts', ...process.argv.slice(2)], { stdio: 'inherit', shell: process.platform === 'win32' });
process.exit(run.status ?? 1);
