// Bundles src/main.ts + src/styles.css into dist/ (index.html, app.js, app.css).
//
// Only files whose bytes changed are written, and nothing else in dist/ is touched: the desktop
// app embeds dist/, and Cargo rebuilds it whenever a file there gets a new modification time.
import { build } from 'esbuild';
import { mkdir, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = dirname(fileURLToPath(import.meta.url));
const out = join(root, 'dist');
const dev = process.argv.includes('--dev');

const common = { bundle: true, minify: !dev, outdir: out, write: false, logLevel: 'warning' };
const js = await build({
  ...common,
  entryPoints: { app: join(root, 'src/main.ts') },
  format: 'iife',
  target: ['chrome100', 'safari15'],
  sourcemap: dev ? 'inline' : false,
  legalComments: 'none',
});
const css = await build({ ...common, entryPoints: { app: join(root, 'src/styles.css') } });

const files = new Map([...js.outputFiles, ...css.outputFiles].map((f) => [f.path, Buffer.from(f.contents)]));
files.set(join(out, 'index.html'), await readFile(join(root, 'index.html')));

await mkdir(out, { recursive: true });
let written = 0;
for (const [path, bytes] of files) {
  const old = await readFile(path).catch(() => null);
  if (old && old.equals(bytes)) continue;
  await writeFile(path, bytes);
  written++;
}
// Files of an older build that this one no longer makes.
for (const name of await readdir(out)) {
  if (!files.has(join(out, name))) await rm(join(out, name), { recursive: true, force: true });
}
console.log(`built ${out} (${written} of ${files.size} files changed)`);
