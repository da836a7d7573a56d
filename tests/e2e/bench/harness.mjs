// What every benchmark script needs around its runs: a log to stderr stamped with the seconds
// since start, a stack of clean-ups (servers, browsers, temp folders) run in reverse, each
// capped at 8 s, and a watchdog that runs them and ends the process when the whole run
// outlives `maxMs` (and on SIGINT / SIGTERM).
import { performance } from 'node:perf_hooks';
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
  return { log, cleanups, cleanup };
}
