// Shared helpers for the end-to-end tests: test audio, the server, the browser.
//
// playwright-core is installed in ui/node_modules (the UI's package owns all
// npm dependencies), so it is loaded from there.
import { spawn, execFile } from 'node:child_process';
import { createRequire } from 'node:module';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const here = dirname(fileURLToPath(import.meta.url));
export const REPO = resolve(here, '../..');
const requireUi = createRequire(join(REPO, 'ui/package.json'));
export const { chromium } = requireUi('playwright-core');

export const SONANCE_BIN = process.env.SONANCE_BIN || join(REPO, 'target/release/sonance');
export const CHROMIUM = process.env.CHROMIUM_BIN || '/usr/bin/chromium';
const run = promisify(execFile);

export async function tempDir(prefix = 'sonance-e2e-') {
  return mkdtemp(join(tmpdir(), prefix));
}

/** Run ffmpeg with `args` (quiet, overwrite). */
export async function ffmpeg(args) {
  await run('nice', ['-n', '5', 'ffmpeg', '-hide_banner', '-v', 'error', '-y', ...args], { maxBuffer: 1 << 20 });
}

/** Decode a file to interleaved stereo float32 at `rate` (default 48 kHz; soxr resampler). */
export async function decodeF32(file, rate = 48000) {
  const { stdout } = await run(
    'ffmpeg',
    ['-hide_banner', '-v', 'error', '-i', file, '-af', 'aresample=resampler=soxr:precision=28', '-ac', '2', '-ar', String(rate), '-f', 'f32le', '-'],
    { encoding: 'buffer', maxBuffer: 1 << 30 },
  );
  return new Float32Array(stdout.buffer, stdout.byteOffset, stdout.byteLength / 4);
}

export const audio = {
  pink: (out, seconds) => ffmpeg(['-f', 'lavfi', '-i', `anoisesrc=color=pink:duration=${seconds}:amplitude=0.3:seed=7`, '-ac', '2', '-ar', '44100', out]),
  sine: (out, seconds, hz = 440) => ffmpeg(['-f', 'lavfi', '-i', `sine=frequency=${hz}:duration=${seconds}:sample_rate=48000`, '-ac', '2', out]),
  /** A tone whose frequency tells the second: 300 + 20·floor(t) Hz. */
  steps: (out, seconds) =>
    ffmpeg(['-f', 'lavfi', '-i', `aevalsrc=0.4*sin(2*PI*(300+20*floor(t))*t):s=48000:d=${seconds}`, '-ac', '2', out]),
};

/**
 * Start `sonance serve --port 0 --chunk-seconds S --cache-dir D FILES…` and
 * wait for its first line `listening on http://127.0.0.1:PORT/TOKEN/` (the page and the API
 * live under the access token; `prefix` is `/TOKEN`, or '' with `--no-token`).
 */
export async function startServer(files, { chunkSeconds = 5, cacheDir, timeoutMs = 30_000, extraArgs = [], env = {} } = {}) {
  const cache = cacheDir ?? (await tempDir('sonance-cache-'));
  // A library of the test's own (beside its cache), never the user's.
  const db = extraArgs.includes('--library-db') ? [] : ['--library-db', join(cache, 'library.sqlite3')];
  const args = ['serve', '--port', '0', '--chunk-seconds', String(chunkSeconds), '--cache-dir', cache, ...db, ...extraArgs, ...files];
  const child = spawn(SONANCE_BIN, args, { cwd: REPO, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
  let stderr = '';
  child.stderr.on('data', (d) => {
    stderr += d;
    if (stderr.length > 20_000) stderr = stderr.slice(-20_000);
  });
  const url = await new Promise((resolveUrl, reject) => {
    let buf = '';
    const timer = setTimeout(() => reject(new Error(`server did not print its address within ${timeoutMs} ms\n${stderr}`)), timeoutMs);
    const onData = (d) => {
      buf += d;
      const nl = buf.indexOf('\n');
      if (nl >= 0) {
        clearTimeout(timer);
        child.stdout.off('data', onData);
        child.stdout.resume();
        const line = buf.slice(0, nl).trim();
        const m = /^listening on (http:\/\/127\.0\.0\.1:\d+\/(?:[0-9a-f]{32}\/)?)$/.exec(line);
        if (m) resolveUrl(m[1]);
        else reject(new Error(`unexpected first line: ${JSON.stringify(line)}\n${stderr}`));
      }
    };
    child.stdout.on('data', onData);
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(new Error(`could not start ${SONANCE_BIN}: ${e.message}`));
    });
    child.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`server exited with ${code} before listening\n${stderr}`));
    });
  });
  return {
    url,
    port: Number(new URL(url).port),
    prefix: new URL(url).pathname.replace(/\/$/, ''),
    child,
    stderr: () => stderr,
    async stop() {
      if (child.exitCode === null) {
        child.kill('SIGTERM');
        await new Promise((r) => {
          const t = setTimeout(() => {
            child.kill('SIGKILL');
            r();
          }, 3000);
          child.once('exit', () => {
            clearTimeout(t);
            r();
          });
        });
      }
      if (!cacheDir) await rm(cache, { recursive: true, force: true });
    },
  };
}

/** Headless Debian Chromium in a fresh profile. */
export async function launch(opts = {}) {
  const profile = await tempDir('sonance-chromium-');
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--autoplay-policy=no-user-gesture-required',
      ...(opts.args ?? []),
    ],
    viewport: { width: 1200, height: 760 },
    ...opts.context,
  });
  return {
    context,
    async close() {
      await context.close().catch(() => {});
      await rm(profile, { recursive: true, force: true });
    },
  };
}

/** Open the app with the given preset remembered (default bypass: the tests compare what plays with the source). */
export async function openApp(context, url, { preset = 'bypass' } = {}) {
  if (preset !== null) {
    await context.addInitScript((p) => {
      try {
        if (!sessionStorage.getItem('e2e-init')) {
          localStorage.setItem('sonance.preset', p);
          sessionStorage.setItem('e2e-init', '1');
        }
      } catch {}
    }, preset);
  }
  const page = context.pages()[0] ?? (await context.newPage());
  const consoleErrors = [];
  page.on('console', (m) => {
    if (m.type() === 'error') consoleErrors.push(m.text());
  });
  page.on('pageerror', (e) => consoleErrors.push(String(e)));
  await page.goto(url);
  await page.waitForFunction(() => window.__sonance !== undefined && document.querySelectorAll('#track-list tr').length > 0, null, { timeout: 15_000 });
  // Record media events from the start.
  await page.evaluate(() => {
    const a = window.__sonance.audio;
    const log = (window.__events = []);
    for (const ev of ['playing', 'waiting', 'seeking', 'seeked', 'ended', 'error', 'stalled', 'pause', 'play']) {
      a.addEventListener(ev, () => log.push({ ev, t: a.currentTime, at: performance.now() }));
    }
  });
  return { page, consoleErrors };
}

export async function events(page) {
  return page.evaluate(() => window.__events.slice());
}

export async function state(page) {
  return page.evaluate(() => window.__sonance.state());
}

export async function waitForTime(page, t, timeoutMs = 60_000) {
  await page.waitForFunction((x) => window.__sonance.audio.currentTime >= x, t, { timeout: timeoutMs, polling: 100 });
}

export function trackButton(page, title) {
  return page.locator('#track-list').getByRole('button', { name: title, exact: true });
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/**
 * An AudioWorklet processor ('e2e-recorder') that records what reaches its input, interleaved
 * stereo, posting Float32Array pieces; 'stop' flushes the rest and answers 'stopped'
 * (read them with {@link readCapture}).
 */
export const RECORDER = `
class Recorder extends AudioWorkletProcessor {
  constructor() { super(); this.buf = new Float32Array(8192 * 2); this.n = 0; this.on = true;
    this.port.onmessage = (e) => { if (e.data === 'stop') { this.flush(); this.on = false; this.port.postMessage('stopped'); } }; }
  flush() { if (this.n) { this.port.postMessage(this.buf.slice(0, this.n * 2)); this.n = 0; } }
  process(inputs) {
    const ch = inputs[0];
    if (!this.on) return false;
    const frames = ch.length ? ch[0].length : 128;
    for (let i = 0; i < frames; i++) {
      this.buf[this.n * 2] = ch.length ? ch[0][i] : 0;
      this.buf[this.n * 2 + 1] = ch.length > 1 ? ch[1][i] : (ch.length ? ch[0][i] : 0);
      this.n++;
      if (this.n * 2 === this.buf.length) this.flush();
    }
    return true;
  }
}
registerProcessor('e2e-recorder', Recorder);
`;

/** The samples the page's capture worklet recorded (`window.__rec.parts`), read out in
 * base64 batches of 64 parts (one evaluate per batch keeps each message small). */
export async function readCapture(page) {
  const nParts = await page.evaluate(() => window.__rec.parts.length);
  const pieces = [];
  for (let i = 0; i < nParts; i += 64) {
    const b64 = await page.evaluate(
      ([a, b]) => {
        const parts = window.__rec.parts.slice(a, b);
        const len = parts.reduce((s, p) => s + p.length, 0);
        const all = new Float32Array(len);
        let o = 0;
        for (const p of parts) {
          all.set(p, o);
          o += p.length;
        }
        const bytes = new Uint8Array(all.buffer);
        let s = '';
        for (let j = 0; j < bytes.length; j += 0x8000) s += String.fromCharCode.apply(null, bytes.subarray(j, j + 0x8000));
        return btoa(s);
      },
      [i, i + 64],
    );
    pieces.push(Buffer.from(b64, 'base64'));
  }
  const buf = Buffer.concat(pieces);
  return new Float32Array(buf.buffer, buf.byteOffset, buf.byteLength / 4);
}
