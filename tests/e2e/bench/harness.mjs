// What every benchmark script needs around its runs: a log to stderr stamped with the seconds
// since start, a stack of clean-ups (servers, browsers, temp folders) run in reverse, each
// capped at 8 s, and a watchdog that runs them and ends the process when the whole run
// outlives `maxMs` (and on SIGINT / SIGTERM).
import { performance } from 'node:perf_hooks';
import { createReadStream, existsSync, readFileSync, statSync } from 'node:fs';
import { createServer } from 'node:http';
import { basename, join } from 'node:path';
import { sleep } from '../helpers.mjs';

export function harness(name, maxMs, digits = 1) {
  const t0 = performance.now();
  const log = (...a) => process.stderr.write(`[${name} ${((performance.now() - t0) / 1000).toFixed(digits)}s] ${a.join(' ')}\n`);
  const cleanups = [];
  async function cleanup() {
    for (const f of cleanups.reverse()) {
      try {
        await Promise.race([f(), sleep(8000)]);
      } catch {}
    }
    cleanups.length = 0;
  }
  const watchdog = setTimeout(async () => {
    log(`watchdog: still running after ${(maxMs / 60000).toFixed(1)} min — stopping`);
    await cleanup();
    process.exit(3);
  }, maxMs);
  watchdog.unref();
  for (const sig of ['SIGINT', 'SIGTERM']) {
    process.on(sig, async () => {
      await cleanup();
      process.exit(130);
    });
  }
  /** Run `main`, then the clean-ups; exit 0, or 1 with the error logged. */
  async function run(main) {
    try {
      await main();
    } catch (e) {
      log(`failed: ${e?.stack ?? e}`);
      await cleanup();
      process.exit(1);
    }
    await cleanup();
    process.exit(0);
  }
  return { log, cleanups, cleanup, run };
}

/** Count, median, min and max of the finite numbers in `xs` (nulls when there are none). */
export function stats(xs) {
  const v = xs.filter((x) => typeof x === 'number' && Number.isFinite(x)).sort((a, b) => a - b);
  if (!v.length) return { n: 0, median: null, min: null, max: null };
  const mid = v.length >> 1;
  return { n: v.length, median: v.length % 2 ? v[mid] : (v[mid - 1] + v[mid]) / 2, min: v[0], max: v[v.length - 1] };
}

/** CPU time (utime + stime, clock ticks) that process `pid` has used; 0 once it is gone. */
export function cpuTicks(pid) {
  try {
    const s = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = s.slice(s.lastIndexOf(')') + 2).split(' ');
    return Number(f[11]) + Number(f[12]);
  } catch {
    return 0;
  }
}

/**
 * The plain-`<audio>` reference's server on 127.0.0.1: `html` at `/ref.html`, and the `.webm`
 * files of `dir` by name, with byte ranges (as a web server gives them to `<audio>`).
 */
export function startReferenceServer(dir, html) {
  const server = createServer((req, res) => {
    const url = new URL(req.url, 'http://127.0.0.1');
    if (url.pathname === '/ref.html') {
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' });
      return res.end(html);
    }
    const name = basename(decodeURIComponent(url.pathname));
    const file = join(dir, name);
    if (!/^[\w.-]+\.webm$/.test(name) || !existsSync(file)) {
      res.writeHead(404);
      return res.end();
    }
    const size = statSync(file).size;
    const headers = { 'content-type': 'audio/webm', 'accept-ranges': 'bytes', 'cache-control': 'no-store' };
    const m = /^bytes=(\d*)-(\d*)$/.exec(req.headers.range ?? '');
    if (m) {
      let start = m[1] === '' ? size - Number(m[2]) : Number(m[1]);
      let end = m[1] !== '' && m[2] !== '' ? Number(m[2]) : size - 1;
      start = Math.max(0, start);
      end = Math.min(end, size - 1);
      if (start > end) {
        res.writeHead(416, { 'content-range': `bytes */${size}` });
        return res.end();
      }
      res.writeHead(206, { ...headers, 'content-range': `bytes ${start}-${end}/${size}`, 'content-length': end - start + 1 });
      return createReadStream(file, { start, end }).pipe(res);
    }
    res.writeHead(200, { ...headers, 'content-length': size });
    createReadStream(file).pipe(res);
  });
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () => {
      resolve({ url: `http://127.0.0.1:${server.address().port}/`, close: () => new Promise((r) => server.close(() => r())) });
    }),
  );
}

/** Every new tab of `context` starts in `preset` at full intensity (once per tab session). */
export function startIn(context, preset) {
  return context.addInitScript((p) => {
    try {
      if (!sessionStorage.getItem('bench-init')) {
        localStorage.setItem('sonance.preset', p);
        localStorage.setItem('sonance.intensity', '1');
        sessionStorage.setItem('bench-init', '1');
      }
    } catch {}
  }, preset);
}
