#!/usr/bin/env node
// Library page benchmark (issue 10): heap and scroll smoothness of the Songs view's
// virtualised list with 100 000 tracks, against the same page with 1 000 tracks (the
// reference) in the same run.
//
//   cargo build --release -p sonance-cli && cargo build --release -p sonance-library --example scan_bench
//   npm --prefix ui run build
//   node tests/e2e/bench/library-bench.mjs [--sizes 1000,100000] [--frames 600] [--jumps 20]
//
// Each library is written straight into a database by `scan_bench --fill DB N` (synthetic
// tags, no audio files: the page never plays them) and served by `sonance serve
// --library-db DB` (SONANCE_BIN as for the e2e tests). Headless Debian Chromium opens the
// page; for each size:
//   heap      CDP HeapProfiler.collectGarbage then Runtime.getHeapUsage (used JS heap), after
//             the first page is shown and again after the scroll; DOM nodes (CDP
//             Performance.getMetrics) and `#track-list tr[data-id]` rows.
//   scroll    a requestAnimationFrame loop moves the list PX px a frame (bouncing at the ends)
//             for FRAMES frames; frame time = delta between rAF callbacks (p50/p95/max), rows
//             in the DOM (max), frames with a not-yet-loaded row in view.
//   jump      scrollTop set to a random row JUMPS times; time until every row in view has its
//             track (the page fetched it): p50/p95.
// Prints a Markdown table to stdout; progress to stderr. Every wait has a cap.
import { execFile } from 'node:child_process';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify, parseArgs } from 'node:util';
import { REPO, launch, startServer, tempDir, sleep } from '../helpers.mjs';

const run = promisify(execFile);

const { values: opt } = parseArgs({
  options: {
    sizes: { type: 'string', default: '1000,100000' },
    frames: { type: 'string', default: '600' },
    px: { type: 'string', default: '400' },
    jumps: { type: 'string', default: '20' },
    'fill-bin': { type: 'string', default: join(REPO, 'target/release/examples/scan_bench') },
  },
});
const sizes = opt.sizes.split(',').map(Number);
const FRAMES = Number(opt.frames);
const PX = Number(opt.px);
const JUMPS = Number(opt.jumps);

const log = (...a) => console.error(...a);
const q = (v, p) => {
  const s = [...v].sort((a, b) => a - b);
  return s.length ? s[Math.min(s.length - 1, Math.floor((s.length * p) / 100))] : NaN;
};
const ms = (x) => `${x.toFixed(1)} ms`;
const mb = (x) => `${(x / 1e6).toFixed(1)} MB`;
const grouped = (n) => String(n).replace(/\B(?=(\d{3})+(?!\d))/g, '\u202f');

/** `promise`, or an error after `ms` (page.evaluate and CDP calls have no cap of their own). */
function capped(promise, ms, what) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: no answer within ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

async function heap(cdp) {
  await capped(cdp.send('HeapProfiler.collectGarbage'), 30_000, 'HeapProfiler.collectGarbage');
  const { usedSize } = await capped(cdp.send('Runtime.getHeapUsage'), 10_000, 'Runtime.getHeapUsage');
  await capped(cdp.send('Performance.enable'), 10_000, 'Performance.enable');
  const { metrics } = await capped(cdp.send('Performance.getMetrics'), 10_000, 'Performance.getMetrics');
  const nodes = metrics.find((m) => m.name === 'Nodes')?.value ?? NaN;
  return { used: usedSize, nodes };
}

async function measure(browser, n, dir) {
  const db = join(dir, `library-${n}.sqlite3`);
  const t0 = Date.now();
  await run(opt['fill-bin'], ['--fill', db, String(n)], { timeout: 300_000 });
  log(`${n}: library written in ${Date.now() - t0} ms`);
  const server = await startServer([], { extraArgs: ['--library-db', db] });
  const page = await browser.context.newPage();
  try {
    const cdp = await capped(page.context().newCDPSession(page), 10_000, 'CDP session');
    await page.bringToFront();
    await page.goto(server.url, { timeout: 30_000 });
    log(`${n}: page open`);
    const want = `${grouped(n)} tracks`;
    await page.waitForFunction((w) => document.getElementById('track-count')?.textContent === w, want, { timeout: 60_000 });
    await page.waitForFunction(() => document.querySelectorAll('#track-list tr[data-id]').length > 0, null, { timeout: 30_000 });
    await sleep(500);
    const before = await heap(cdp);
    const rowsBefore = await page.locator('#track-list tr[data-id]').count();

    // Smooth scroll: PX a frame, bouncing at both ends.
    log(`${n}: heap ${mb(before.used)}; scrolling ${FRAMES} frames`);
    const scroll = await capped(page.evaluate(
      ({ frames, px }) =>
        new Promise((resolve) => {
          const sc = document.getElementById('view-songs');
          const body = document.getElementById('track-list');
          const deltas = [];
          let dir = 1;
          let maxRows = 0;
          let loadingFrames = 0;
          let last = 0;
          let i = 0;
          const inView = () => {
            const top = sc.getBoundingClientRect().top;
            const bottom = top + sc.clientHeight;
            return [...body.querySelectorAll('tr.loading')].some((r) => {
              const b = r.getBoundingClientRect();
              return b.bottom > top && b.top < bottom;
            });
          };
          const step = (now) => {
            if (last) deltas.push(now - last);
            last = now;
            maxRows = Math.max(maxRows, body.querySelectorAll('tr[data-id]').length);
            if (inView()) loadingFrames++;
            const max = sc.scrollHeight - sc.clientHeight;
            if ((dir > 0 && sc.scrollTop >= max - 1) || (dir < 0 && sc.scrollTop <= 0)) dir = -dir;
            sc.scrollTop += dir * px;
            if (++i < frames) requestAnimationFrame(step);
            else resolve({ deltas, maxRows, loadingFrames, height: sc.scrollHeight });
          };
          requestAnimationFrame(step);
        }),
      { frames: FRAMES, px: PX },
    ), 120_000, `${FRAMES} animation frames`);
    log(`${n}: scrolled; ${JUMPS} jumps`);
    await sleep(500);
    const after = await heap(cdp);

    // Jumps: a random row, until every row in view has its track.
    const jumps = [];
    for (let j = 0; j < JUMPS; j++) {
      const took = await capped(page.evaluate(
        ({ row, cap }) =>
          new Promise((resolve) => {
            const sc = document.getElementById('view-songs');
            const body = document.getElementById('track-list');
            const t = performance.now();
            sc.scrollTop = row * 34;
            const check = () => {
              const top = sc.getBoundingClientRect().top;
              const bottom = top + sc.clientHeight;
              const rows = [...body.querySelectorAll('tr')].filter((r) => {
                const b = r.getBoundingClientRect();
                return b.height > 0 && b.bottom > top && b.top < bottom && (r.dataset.id || r.classList.contains('loading'));
              });
              const done = rows.length > 0 && rows.every((r) => r.dataset.id);
              if (done) resolve(performance.now() - t);
              else if (performance.now() - t > cap) resolve(null);
              else requestAnimationFrame(check);
            };
            requestAnimationFrame(check);
          }),
        { row: Math.floor(Math.random() * n), cap: 10_000 },
      ), 20_000, 'a jump');
      if (took === null) throw new Error(`${n}: rows in view were still loading 10 s after a jump`);
      jumps.push(took);
    }
    return {
      n,
      before,
      after,
      rowsBefore,
      frames: scroll.deltas,
      maxRows: scroll.maxRows,
      loadingFrames: scroll.loadingFrames,
      height: scroll.height,
      jumps,
    };
  } finally {
    await page.close();
    await server.stop();
  }
}

const watchdog = setTimeout(() => {
  log('library-bench: gave up after 15 min');
  process.exit(2);
}, 15 * 60_000);

const dir = await tempDir('sonance-library-bench-');
const browser = await launch();
const results = [];
try {
  for (const n of sizes) results.push(await measure(browser, n, dir));
} finally {
  await browser.close();
  await rm(dir, { recursive: true, force: true });
  clearTimeout(watchdog);
}

console.log(`| tracks | JS heap (GC'd) shown / after scroll | DOM nodes | rows in DOM (max while scrolling) | frame p50 / p95 / max (${FRAMES} frames, ${PX} px each) | frames with an unloaded row in view | jump to a random row → rows filled p50 / p95 (${JUMPS}) |`);
console.log('|---|---|---|---|---|---|---|');
for (const r of results) {
  console.log(
    `| ${grouped(r.n)} | ${mb(r.before.used)} / ${mb(r.after.used)} | ${r.before.nodes} / ${r.after.nodes} | ${r.rowsBefore} (${r.maxRows}) | ${ms(q(r.frames, 50))} / ${ms(q(r.frames, 95))} / ${ms(Math.max(...r.frames))} | ${r.loadingFrames} of ${r.frames.length + 1} | ${ms(q(r.jumps, 50))} / ${ms(q(r.jumps, 95))} |`,
  );
}
