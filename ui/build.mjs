// Bundles src/main.ts + src/styles.css into dist/ (index.html, app.js, app.css).
import { build } from 'esbuild';
import { copyFile, mkdir, rm } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = dirname(fileURLToPath(import.meta.url));
const out = join(root, 'dist');
const dev = process.argv.includes('--dev');

await rm(out, { recursive: true, force: true });
await mkdir(out, { recursive: true });
await build({
  entryPoints: { app: join(root, 'src/main.ts') },
  bundle: true,
  format: 'iife',
  target: ['chrome100', 'safari15'],
  minify: !dev,
  sourcemap: dev ? 'inline' : false,
  outdir: out,
  logLevel: 'warning',
  legalComments: 'none',
});
await build({
  entryPoints: { app: join(root, 'src/styles.css') },
  bundle: true,
  minify: !dev,
  outdir: out,
  logLevel: 'warning',
});
await copyFile(join(root, 'index.html'), join(out, 'index.html'));
console.log('built', out);
