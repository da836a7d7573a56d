// The desktop app under WebDriver: tauri-driver + WebKitWebDriver, a tiny fetch-based client,
// and helpers to launch `sonance-desktop` with its own data folders.
//
// Run the tests under a display and a private session bus:
//   xvfb-run -a dbus-run-session -- node --test --test-concurrency=1 tests/desktop/
// Environment: SONANCE_DESKTOP_BIN (default target/release/sonance-desktop), TAURI_DRIVER
// (default tauri-driver on PATH or ~/.cargo/bin), DESKTOP_ARTIFACTS (where screenshots go,
// default target/desktop-tests).
import assert from 'node:assert/strict';
import { spawn, execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, mkdir, open, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { homedir, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const here = dirname(fileURLToPath(import.meta.url));
export const REPO = resolve(here, '../..');
export const APP = resolve(process.env.SONANCE_DESKTOP_BIN || join(REPO, 'target/release/sonance-desktop'));
export const ARTIFACTS = resolve(process.env.DESKTOP_ARTIFACTS || join(REPO, 'target/desktop-tests'));
const TAURI_DRIVER =
  process.env.TAURI_DRIVER || (existsSync(join(homedir(), '.cargo/bin/tauri-driver')) ? join(homedir(), '.cargo/bin/tauri-driver') : 'tauri-driver');
export const run = promisify(execFile);
export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

export async function tempDir(prefix = 'sonance-desktop-') {
  return mkdtemp(join(tmpdir(), prefix));
}

/** Run ffmpeg quietly. */
export async function ffmpeg(args) {
  await run('nice', ['-n', '5', 'ffmpeg', '-hide_banner', '-v', 'error', '-y', ...args], { maxBuffer: 1 << 20 });
}

/** A tagged sine tone (FLAC). */
export async function tone(out, { seconds = 20, hz = 440, title = 'Tone', artist = 'Sonance Tests' } = {}) {
  await ffmpeg([
    '-f', 'lavfi', '-i', `sine=frequency=${hz}:duration=${seconds}:sample_rate=44100`,
    '-ac', '2', '-metadata', `title=${title}`, '-metadata', `artist=${artist}`, out,
  ]);
  return out;
}

async function freePort() {
  return new Promise((res, rej) => {
    const s = createServer();
    s.once('error', rej);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => res(port));
    });
  });
}

/** Poll `fn` until it returns a truthy value (returned) or time runs out (throws with `what`). */
export async function until(fn, { timeoutMs = 30_000, everyMs = 200, what = 'condition' } = {}) {
  const end = Date.now() + timeoutMs;
  let last;
  for (;;) {
    try {
      last = await fn();
      if (last) return last;
    } catch (e) {
      last = e;
    }
    if (Date.now() > end) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what} (last: ${last instanceof Error ? last.message : JSON.stringify(last)})`);
    await sleep(everyMs);
  }
}

/**
 * The app's isolated world: data, cache and config folders of its own (XDG_*), so settings
 * and the fragment cache start empty and survive restarts within one test. `alsaNull` also
 * gives it a HOME whose ~/.asoundrc makes ALSA's default device the null plugin.
 */
export async function makeHome({ alsaNull = false } = {}) {
  const root = await tempDir();
  const env = {
    XDG_DATA_HOME: join(root, 'data'),
    XDG_CACHE_HOME: join(root, 'cache'),
    XDG_CONFIG_HOME: join(root, 'config'),
  };
  for (const d of Object.values(env)) await mkdir(d, { recursive: true });
  if (alsaNull) {
    // ALSA's default PCM as the null plugin: a real cpal/ALSA stream on a machine with no
    // sound card (it consumes audio in real time and discards it).
    await writeFile(join(root, '.asoundrc'), 'pcm.!default { type null }\nctl.!default { type hw card 0 }\n');
    env.HOME = root;
  }
  return {
    root,
    env,
    settingsFile: join(env.XDG_DATA_HOME, 'app.sonance.player', 'settings.json'),
    // The player core's saved state (queue, track, position, volume, preset), beside the library.
    playerFile: join(env.XDG_DATA_HOME, 'sonance', 'player.json'),
    logFile: join(env.XDG_DATA_HOME, 'app.sonance.player', 'logs', 'sonance.log'),
  };
}

/** A WebDriver session on a running app. */
export class Session {
  constructor(base, id, driver) {
    this.base = base;
    this.id = id;
    this.driver = driver;
  }

  async cmd(method, path, body) {
    const res = await fetch(`${this.base}/session/${this.id}${path}`, {
      method,
      headers: { 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(90_000),
    });
    const json = await res.json().catch(() => ({}));
    if (!res.ok) throw new Error(`WebDriver ${method} ${path}: ${res.status} ${JSON.stringify(json.value ?? json).slice(0, 500)}`);
    return json.value;
  }

  /** Run `fn` (a function or its source) in the page with `args`; returns its result. */
  exec(fn, ...args) {
    const src = typeof fn === 'function' ? `return (${fn}).apply(null, arguments);` : fn;
    return this.cmd('POST', '/execute/sync', { script: src, args });
  }

  /** Run an async function in the page (awaited there). */
  execAsync(fn, ...args) {
    const src = `const done = arguments[arguments.length - 1];
      Promise.resolve((${fn}).apply(null, Array.prototype.slice.call(arguments, 0, -1)))
        .then((v) => done({ ok: true, v }), (e) => done({ ok: false, e: String(e && e.stack || e) }));`;
    return this.cmd('POST', '/execute/async', { script: src, args }).then((r) => {
      if (!r || !r.ok) throw new Error(`page error: ${r && r.e}`);
      return r.v;
    });
  }

  async find(css) {
    const el = await this.cmd('POST', '/element', { using: 'css selector', value: css });
    return Object.values(el)[0];
  }

  /** A real WebDriver click on the element matching `css`. */
  async click(css) {
    const id = await this.find(css);
    await this.cmd('POST', `/element/${id}/click`, {});
  }

  title() {
    return this.cmd('GET', '/title');
  }

  /** Save a PNG screenshot of the window's page; returns the path. */
  async screenshot(name) {
    const b64 = await this.cmd('GET', '/screenshot');
    await mkdir(ARTIFACTS, { recursive: true });
    const file = join(ARTIFACTS, name);
    await writeFile(file, Buffer.from(b64, 'base64'));
    return file;
  }

  /** The player's state as the page sees it (see ui/README.md). */
  state() {
    return this.exec(() => {
      const s = window.__sonance;
      if (!s) return null;
      const st = s.state();
      return {
        ...st,
        appends: st.appends.map((a) => ({ chunk: a.chunk, key: a.key, windowStart: a.windowStart })),
        fetches: st.fetches.map((f) => ({ chunk: f.chunk, key: f.key })),
        audioPaused: s.audio.paused,
        mseSupported: typeof MediaSource !== 'undefined' && MediaSource.isTypeSupported('audio/webm; codecs="opus"'),
        alert: document.getElementById('alert')?.textContent || '',
        nowTitle: document.getElementById('now-title')?.textContent || '',
      };
    });
  }

  /** Close the app (the driver closes its window) and wait until its process has exited. */
  async close() {
    try {
      await fetch(`${this.base}/session/${this.id}`, { method: 'DELETE', signal: AbortSignal.timeout(20_000) });
    } finally {
      await this.driver.stop();
    }
    // Gone means: no process, and its single-instance name released on the session bus (else
    // the next launch would try to hand over to it).
    const gone = async () => !(await appRunning()) && !(await busNames().catch(() => [])).some((n) => n.includes('sonance') && n.endsWith('.SingleInstance'));
    const exited = () => until(gone, { timeoutMs: 10_000, what: 'the app to exit' }).then(() => true, () => false);
    if (await exited()) return;
    // Now and then (about one close in ten here) WebKitWebDriver ends the session without the
    // window closing; the app then idles in its event loop. Ask it to quit the way a desktop
    // session does at logout (SIGTERM: the app saves its settings and exits).
    const pids = await appPids();
    console.error(`# the window did not close through WebDriver; SIGTERM to ${pids}`);
    for (const pid of pids) process.kill(pid, 'SIGTERM');
    try {
      await until(async () => !(await appRunning()), { timeoutMs: 10_000, what: 'the app to exit on SIGTERM' });
    } catch (e) {
      // A hang at exit is a bug: keep the evidence, end that process, and fail.
      const pids = await appPids();
      const dump = join(ARTIFACTS, `exit-hang-${Date.now()}.txt`);
      await mkdir(ARTIFACTS, { recursive: true });
      for (const pid of pids) {
        const bt = await run('gdb', ['-p', String(pid), '-batch', '-ex', 'thread apply all bt 12'], { timeout: 30_000, maxBuffer: 8 << 20 }).then((r) => r.stdout, (err) => String(err));
        await writeFile(dump, bt, { flag: 'a' });
        process.kill(pid, 'SIGKILL');
      }
      e.message += ` (stacks in ${dump})`;
      throw e;
    }
  }
}

/** Process ids of the app's binary. */
export async function appPids() {
  try {
    const { stdout } = await run('pgrep', ['-f', '-x', `${APP}( .*)?`]);
    return stdout.split('\n').filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

/** Whether a process of the app's binary runs (tests run one app at a time). */
export async function appRunning() {
  try {
    await run('pgrep', ['-f', '-x', `${APP}( .*)?`]);
    return true;
  } catch {
    return false;
  }
}

/**
 * Launch the app through a fresh tauri-driver with `files` and `args`, in `home`'s folders.
 * Returns a Session once the page has started (`window.__sonance` exists).
 */
export async function launchApp({ files = [], args = [], home, env = {} } = {}) {
  if (!existsSync(APP)) throw new Error(`${APP} does not exist: build it (cargo build --release -p sonance-desktop)`);
  // A running instance would take the launch over (single instance): never test against it.
  if (await appRunning()) throw new Error(`${APP} is already running (pids ${await appPids()})`);
  const port = await freePort();
  const nativePort = await freePort();
  // NO_AT_BRIDGE: no accessibility bus, whose activated daemons would outlive the test.
  const driverEnv = { ...process.env, NO_AT_BRIDGE: '1', ...(home ? home.env : {}), ...env };
  const child = spawn(TAURI_DRIVER, ['--port', String(port), '--native-port', String(nativePort)], {
    env: driverEnv,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  const keep = (d) => {
    output += d;
    if (output.length > 40_000) output = output.slice(-40_000);
  };
  child.stdout.on('data', keep);
  child.stderr.on('data', keep);
  const exited = new Promise((r) => child.once('exit', r));
  const driver = {
    output: () => output,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        await Promise.race([exited, sleep(3000)]);
        if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      }
    },
  };
  const base = `http://127.0.0.1:${port}`;
  try {
    await until(async () => (await fetch(`${base}/status`)).ok, { timeoutMs: 15_000, everyMs: 100, what: 'tauri-driver /status' });
    const res = await fetch(`${base}/session`, {
      method: 'POST',
      signal: AbortSignal.timeout(60_000),
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        capabilities: {
          alwaysMatch: {
            browserName: 'wry',
            'tauri:options': { application: APP, args: [...args, ...files] },
          },
        },
      }),
    });
    const json = await res.json();
    if (!res.ok) throw new Error(`new session: ${res.status} ${JSON.stringify(json).slice(0, 800)}`);
    const session = new Session(base, json.value.sessionId, driver);
    await until(() => session.exec(() => !!window.__sonance && !!window.__sonanceDesktop), { timeoutMs: 30_000, what: 'the page to start' });
    return session;
  } catch (e) {
    await driver.stop();
    throw new Error(`${e && e.message}\n--- tauri-driver output ---\n${output}`, { cause: e });
  }
}

/**
 * A private PulseAudio server for one test, with a null sink as its only (default) output:
 * the app's GStreamer output (pulsesink) plays into it in real time, and `record` captures its
 * monitor, which is what a user would hear. Everything lives in a temporary folder (socket,
 * state; no system daemon, no autospawn); `stop` ends the daemon. Pass `env` to launchApp.
 */
export async function startPulse({ rate = 48000 } = {}) {
  const dir = await tempDir('sonance-pulse-');
  const socket = join(dir, 'native');
  const env = { PULSE_SERVER: `unix:${socket}`, PULSE_STATE_PATH: join(dir, 'state'), PULSE_RUNTIME_PATH: join(dir, 'runtime') };
  // -n: no default.pa (no hardware detection, no restored volumes: streams play at unity).
  const daemon = spawn('pulseaudio', [
    '-n', '--daemonize=no', '--exit-idle-time=-1', '--use-pid-file=no', '--log-target=stderr', '--log-level=warning',
    `--load=module-native-protocol-unix socket=${socket} auth-anonymous=1`,
    `--load=module-null-sink sink_name=capture rate=${rate} format=float32le channels=2`,
  ], { env: { ...process.env, ...env, XDG_RUNTIME_DIR: dir, HOME: dir }, stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  daemon.stderr.on('data', (d) => (log = (log + d).slice(-8000)));
  const exited = new Promise((r) => daemon.once('exit', r));
  const pactl = (...args) => run('pactl', args, { env: { ...process.env, ...env }, timeout: 5000 });
  try {
    await until(async () => (await pactl('info')).stdout.includes('Default Sink: capture'), { timeoutMs: 10_000, everyMs: 100, what: 'the PulseAudio server' });
  } catch (e) {
    daemon.kill('SIGKILL');
    throw new Error(`${e.message}\n--- pulseaudio ---\n${log}`, { cause: e });
  }
  return {
    env,
    rate,
    /** Record the sink's monitor (f32le stereo at `rate`) into `file` until `stop()`. */
    async record(file) {
      const out = await open(file, 'w');
      const rec = spawn('parec', ['--raw', '--device=capture.monitor', '--format=float32le', `--rate=${rate}`, '--channels=2', '--latency-msec=50'], {
        env: { ...process.env, ...env },
        stdio: ['ignore', out.fd, 'pipe'],
      });
      let err = '';
      rec.stderr.on('data', (d) => (err += d));
      const done = new Promise((r) => rec.once('exit', r));
      return {
        async stop() {
          rec.kill('SIGTERM');
          await done;
          await out.close();
          if (err.trim()) throw new Error(`parec: ${err.trim()}`);
        },
      };
    },
    async stop() {
      if (daemon.exitCode === null && daemon.signalCode === null) {
        daemon.kill('SIGTERM');
        await Promise.race([exited, sleep(3000)]);
        if (daemon.exitCode === null && daemon.signalCode === null) daemon.kill('SIGKILL');
      }
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** The app's audio as heard: RMS of `ms` milliseconds recorded on `pulse`'s sink (startPulse). */
export async function measureRms(pulse, ms = 700) {
  const dir = await tempDir('sonance-rms-');
  const file = join(dir, 'rms.f32');
  const bytes = Math.round((pulse.rate * ms) / 1000) * 8;
  const rec = await pulse.record(file);
  try {
    await until(async () => (await stat(file)).size >= bytes, { timeoutMs: ms + 10_000, everyMs: 50, what: `${ms} ms of audio from the PulseAudio monitor` });
  } finally {
    await rec.stop();
  }
  const buf = await readFile(file);
  await rm(dir, { recursive: true, force: true });
  const x = new Float32Array(buf.buffer, buf.byteOffset, bytes / 4);
  let sum = 0;
  for (const v of x) sum += v * v;
  return Math.sqrt(sum / x.length);
}

/**
 * An undecodable file was just opened while `title` plays: wait until the page names it
 * (`pattern` in the alert) and `title` goes on playing.
 */
export async function namedWhilePlaying(app, pattern, title) {
  const alert = await until(async () => {
    const s = await app.state();
    return pattern.test(s.alert) ? s : null;
  }, { what: 'the page to name the undecodable file' });
  assert.equal(alert.title, title);
  const t0 = alert.currentTime;
  await until(async () => {
    const s = await app.state();
    return !s.audioPaused && s.currentTime > t0 + 0.5 && s.title === title;
  }, { what: `${title} to go on playing` });
}

/** The track list's rows (their text), once one matches `pattern`. */
export function listedOnce(app, pattern, what) {
  return until(async () => {
    const rows = await app.exec(() => [...document.querySelectorAll('#track-list tr[data-id]')].map((x) => x.textContent));
    return rows.some((x) => pattern.test(x)) ? rows : null;
  }, { what });
}

/** Titles of the X server's visible top-level windows (xdotool). */
export async function windowTitles() {
  let ids = [];
  try {
    const { stdout } = await run('xdotool', ['search', '--onlyvisible', '--name', '.'], { timeout: 5000 });
    ids = stdout.split('\n').filter(Boolean);
  } catch {
    return [];
  }
  const titles = [];
  for (const id of ids) {
    try {
      const { stdout } = await run('xdotool', ['getwindowname', id], { timeout: 5000 });
      titles.push(stdout.trim());
    } catch {
      /* gone */
    }
  }
  return titles;
}

/** Press a key on the X server (xdotool), e.g. `XF86AudioPlay`. */
export async function pressKey(key) {
  await run('xdotool', ['key', key], { timeout: 5000 });
}

/** `dbus-send` on the session bus; returns stdout. */
export async function dbus(...args) {
  const { stdout } = await run('dbus-send', ['--session', '--print-reply', ...args], { timeout: 10_000 });
  return stdout;
}

export const MPRIS = 'org.mpris.MediaPlayer2.sonance';

export function mprisCall(method) {
  return dbus(`--dest=${MPRIS}`, '/org/mpris/MediaPlayer2', `org.mpris.MediaPlayer2.Player.${method}`);
}

export function mprisGet(prop) {
  return dbus(`--dest=${MPRIS}`, '/org/mpris/MediaPlayer2', 'org.freedesktop.DBus.Properties.Get', 'string:org.mpris.MediaPlayer2.Player', `string:${prop}`);
}

/** Well-known names on the session bus. */
export async function busNames() {
  const out = await dbus('--dest=org.freedesktop.DBus', '/org/freedesktop/DBus', 'org.freedesktop.DBus.ListNames');
  return [...out.matchAll(/string "([^":][^"]*)"/g)].map((m) => m[1]);
}

/** Bus names that look like MPRIS players. */
export async function mprisNames() {
  return (await busNames()).filter((n) => n.startsWith('org.mpris.MediaPlayer2.'));
}
