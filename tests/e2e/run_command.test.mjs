// The README's run command (issue 14): once set up, `scripts/run.sh` starts in seconds, and it
// installs only what running needs (the test tools come with `scripts/test.sh` alone).
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { REPO, tempDir } from './helpers.mjs';

const run = promisify(execFile);
const dirs = [];
after(() => Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true }))));

async function packages(...flags) {
  const { stdout } = await run(join(REPO, 'scripts/setup.sh'), ['--print-packages', ...flags]);
  return stdout.split('\n').filter(Boolean);
}

test('run.sh installs the runtime and build packages only; test.sh adds the test tools', async () => {
  const forRun = await packages();
  const forTest = await packages('--test');
  const testTools = ['chromium', 'ffmpeg', 'xvfb', 'webkit2gtk-driver', 'xdotool', 'pulseaudio', 'python3-gi'];
  for (const p of testTools) {
    assert.ok(!forRun.includes(p), `run.sh would install the test tool ${p}`);
    assert.ok(forTest.includes(p), `test.sh would not install ${p}`);
  }
  // What running needs is in both: WebKit's MSE refuses Opus without plugins-bad.
  for (const p of ['gstreamer1.0-plugins-bad', 'libwebkit2gtk-4.1-dev', 'cmake']) {
    assert.ok(forRun.includes(p) && forTest.includes(p), p);
  }
  for (const p of forRun) assert.ok(forTest.includes(p), `${p} is needed to run but test.sh would not install it`);
  // And each script asks for its own list.
  const setupLine = async (script) =>
    (await readFile(join(REPO, 'scripts', script), 'utf8')).split('\n').find((l) => /^\s*scripts\/setup\.sh/.test(l))?.trim();
  assert.equal(await setupLine('run.sh'), 'scripts/setup.sh');
  assert.equal(await setupLine('test.sh'), 'scripts/setup.sh --test');
});

/** Start `scripts/run.sh` in browser mode; resolve with the address and the time it took. */
async function startRun() {
  const home = await tempDir('sonance-run-');
  dirs.push(home);
  const t0 = performance.now();
  const child = spawn(join(REPO, 'scripts/run.sh'), [], {
    cwd: REPO,
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: {
      ...process.env,
      SONANCE_BROWSER: '1',
      SONANCE_NO_OPEN: '1',
      SONANCE_PORT: '0',
      XDG_CACHE_HOME: join(home, 'cache'),
      XDG_DATA_HOME: join(home, 'data'),
      XDG_CONFIG_HOME: join(home, 'config'),
    },
  });
  let log = '';
  child.stderr.on('data', (d) => (log = (log + d).slice(-20_000)));
  const stop = () => {
    try {
      process.kill(-child.pid, 'SIGTERM');
    } catch {}
  };
  const url = await new Promise((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`run.sh printed no address in 15 min\n${log}`)), 900_000);
    child.stdout.on('data', (d) => {
      out += d;
      const m = /listening on (http:\/\/\S+\/)/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]);
      }
    });
    child.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`run.sh exited with ${code} before listening\n${log}`));
    });
  });
  const ms = performance.now() - t0;
  return { url, ms, child, stop };
}

test('a second scripts/run.sh on a set-up checkout prints its address within 10 s and serves the demo', async () => {
  const times = [];
  for (let i = 0; i < 2; i++) {
    const r = await startRun();
    try {
      times.push(r.ms);
      const res = await fetch(new URL('api/tracks', r.url));
      assert.equal(res.status, 200);
      const tracks = await res.json();
      assert.equal(tracks.length, 1, 'the demo track alone');
    } finally {
      r.stop();
      await new Promise((resolve) => (r.child.exitCode !== null ? resolve() : r.child.once('exit', resolve)));
    }
  }
  console.log(`run.sh → address: first ${(times[0] / 1000).toFixed(1)} s, second ${(times[1] / 1000).toFixed(1)} s`);
  assert.ok(times[1] < 10_000, `the second run took ${(times[1] / 1000).toFixed(1)} s to print its address`);
});
