// End-to-end tests of the web UI against the real `sonance serve` in headless Chromium.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { writeFile, rm } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { audio, events, launch, openApp, sleep, startServer, state, tempDir, trackButton, waitForTime } from './helpers.mjs';

const CHUNK = 5;
let dir, server, browser;
/** title → track from /api/tracks, by file stem */
const tracks = {};

before(async () => {
  dir = await tempDir();
  const files = {
    pink: join(dir, 'pink20.flac'),
    steps: join(dir, 'steps60.flac'),
    long: join(dir, 'long480.flac'),
    bad: join(dir, 'broken.mp3'),
    after: join(dir, 'zafter.flac'),
  };
  await Promise.all([
    audio.pink(files.pink, 20),
    audio.steps(files.steps, 60),
    audio.sine(files.long, 480, 220),
    audio.sine(files.after, 30, 660),
    writeFile(files.bad, randomBytes(64 * 1024)),
  ]);
  server = await startServer(Object.values(files), { chunkSeconds: CHUNK });
  const list = await (await fetch(new URL('api/tracks', server.url))).json();
  for (const [name, file] of Object.entries(files)) {
    const stem = file.split('/').pop().replace(/\.[^.]+$/, '');
    tracks[name] = list.find((t) => t.title === stem || String(t.title).includes(stem)) ?? null;
  }
  browser = await launch();
});

after(async () => {
  await browser?.close();
  await server?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

async function freshPage() {
  const { page, consoleErrors } = await openApp(browser.context, server.url);
  return { page, consoleErrors };
}

function need(name) {
  const t = tracks[name];
  assert.ok(t, `the server did not list the ${name} test file (titles: ${JSON.stringify(Object.values(tracks).map((x) => x?.title))})`);
  return t;
}

describe('ui', () => {
  test('page has the controls with their accessible names', async () => {
    const { page, consoleErrors } = await freshPage();
    for (const name of ['Seek', 'Intensity', 'Volume']) assert.equal(await page.getByRole('slider', { name }).count(), 1, name);
    assert.equal(await page.getByRole('button', { name: 'Play', exact: true }).count(), 1);
    const preset = page.getByRole('combobox', { name: 'Preset' });
    await page.waitForFunction(() => document.querySelectorAll('#preset option').length > 0);
    const options = await preset.locator('option').evaluateAll((os) => os.map((o) => ({ v: o.value, title: o.title })));
    assert.ok(options.some((o) => o.v === 'bypass'), JSON.stringify(options));
    assert.ok(options.every((o) => o.title.length > 0), 'every preset has its description as title');
    assert.deepEqual(consoleErrors, []);
    await page.close();
  });

  test('play: starts, crosses >= 3 joins with no waiting', { timeout: 90_000 }, async () => {
    const t = need('pink');
    const { page, consoleErrors } = await freshPage();
    await trackButton(page, t.title).click();
    await page.waitForFunction(() => window.__events.some((e) => e.ev === 'playing'), null, { timeout: 15_000 });
    assert.equal(await page.getByRole('button', { name: 'Pause', exact: true }).count(), 1);
    const t0 = await page.evaluate(() => window.__sonance.audio.currentTime);
    await waitForTime(page, 3 * CHUNK + 0.6, 40_000);
    const ev = await events(page);
    const firstPlaying = ev.find((e) => e.ev === 'playing');
    const waits = ev.filter((e) => e.ev === 'waiting' && e.at > firstPlaying.at);
    assert.deepEqual(waits, [], `waiting after playback started: ${JSON.stringify(waits)}`);
    const st = await state(page);
    assert.ok(st.currentTime > t0 + 10, 'currentTime advanced');
    assert.equal(st.error, null);
    // A chunk whose body arrives in pieces is appended in parts; its first part sets the window.
    const firsts = st.appends.filter((a) => a.part === 0);
    assert.ok(firsts.length >= 4, 'appended at least 4 chunks');
    assert.deepEqual(
      firsts.slice(0, 4).map((a) => [a.chunk, a.windowStart, a.windowEnd]),
      [0, 1, 2, 3].map((n) => [n, n * CHUNK, Math.min((n + 1) * CHUNK, t.duration_s)]),
    );
    // Space pauses, Space resumes — with the focus still on the clicked track
    // button, which must not be activated (that would restart the track).
    const epoch = (await state(page)).epoch;
    await page.keyboard.press('Space');
    await page.waitForFunction(() => window.__sonance.audio.paused);
    assert.equal(await page.getByRole('button', { name: 'Play', exact: true }).count(), 1);
    await page.keyboard.press('Space');
    await page.waitForFunction(() => !window.__sonance.audio.paused);
    await page.waitForTimeout(300);
    const after = await state(page);
    assert.equal(after.epoch, epoch, 'Space did not restart the track');
    assert.ok(after.currentTime > 3 * CHUNK, 'still where it was');
    assert.deepEqual(consoleErrors, []);
    await page.close();
  });

  test('seek into an unbuffered region plays the right time; no stale response appended', { timeout: 90_000 }, async () => {
    const t = need('steps');
    const { page } = await freshPage();
    // Hold back the responses of chunks 2..4 so they are still in flight when we seek.
    await page.route(/\/chunks\/[234]\.webm/, async (route) => {
      await sleep(1500);
      await route.continue().catch(() => {});
    });
    await trackButton(page, t.title).click();
    await waitForTime(page, 1.0, 20_000);
    const before = await state(page);
    assert.ok(before.buffered.every(([, b]) => b < 40), `target must be unbuffered: ${JSON.stringify(before.buffered)}`);
    const seekAt = await page.evaluate(() => {
      const input = document.getElementById('seek');
      input.value = '41.3';
      input.dispatchEvent(new Event('input', { bubbles: true }));
      input.dispatchEvent(new Event('change', { bubbles: true }));
      return performance.now();
    });
    await waitForTime(page, 42.6, 20_000);
    const st = await state(page);
    assert.ok(st.epoch > before.epoch, 'epoch bumped');
    const afterSeek = st.appends.filter((a) => a.at >= seekAt);
    assert.ok(afterSeek.length > 0);
    assert.equal(afterSeek[0].chunk, Math.floor(41.3 / CHUNK), 'the chunk under the target comes first');
    const stale = afterSeek.filter((a) => a.epoch < st.epoch && a.at > seekAt);
    assert.deepEqual(stale, [], 'no pre-seek response appended after the seek');
    // Hear it: the tone's frequency encodes the second (300 + 20·s Hz).
    const heard = await dominantSecond(page);
    assert.ok(Math.abs(heard.second - Math.floor(heard.t)) <= 1, `heard second ${heard.second} at currentTime ${heard.t.toFixed(2)}`);
    // → seeks 5 s forward inside the buffer (same epoch).
    const e0 = st.epoch;
    const ct = await page.evaluate(() => window.__sonance.audio.currentTime);
    await page.locator('body').press('ArrowRight');
    await page.waitForFunction((x) => window.__sonance.audio.currentTime >= x, ct + 4.5, { timeout: 10_000 });
    const st2 = await state(page);
    assert.ok(st2.epoch >= e0);
    const heard2 = await dominantSecond(page);
    assert.ok(Math.abs(heard2.second - Math.floor(heard2.t)) <= 1, `after →: heard second ${heard2.second} at ${heard2.t.toFixed(2)}`);
    await page.close();
  });

  test('preset/intensity switch fetches the new rendering and continues without waiting', { timeout: 90_000 }, async () => {
    const t = need('steps');
    const { page } = await freshPage();
    const requests = [];
    page.on('request', (r) => {
      if (r.url().includes('/chunks/')) requests.push({ url: new URL(r.url()), at: Date.now() });
    });
    await trackButton(page, t.title).click();
    await waitForTime(page, 6.2, 20_000);
    const ct = await page.evaluate(() => window.__sonance.audio.currentTime);
    const n0 = requests.length;
    const intensity = page.getByRole('slider', { name: 'Intensity' });
    await intensity.focus();
    await page.keyboard.press('Home'); // 0 % → intensity=0 (the default is 1)
    await page.waitForFunction(() => window.__sonance.state().appends.some((a) => a.key.endsWith('@0')), null, { timeout: 10_000 });
    const newReq = requests.slice(n0).find((r) => r.url.searchParams.get('intensity') === '0');
    assert.ok(newReq, 'requested the new rendering');
    const n = Number(/chunks\/(\d+)\.webm/.exec(newReq.url.pathname)[1]);
    assert.ok(n === Math.floor((ct + 0.1) / CHUNK) || n === Math.floor((ct + 0.1) / CHUNK) + 1, `switch chunk ${n} at ${ct}`);
    const st = await state(page);
    const sw = st.appends.find((a) => a.key.endsWith('@0'));
    assert.ok(sw.windowStart - sw.currentTime >= 0.09 && sw.windowStart - sw.currentTime < 0.5, JSON.stringify(sw));
    // Another preset: its chunks are fetched and appended from just ahead of the playhead.
    const n1 = requests.length;
    await page.getByRole('combobox', { name: 'Preset' }).selectOption('warm');
    await page.waitForFunction(() => window.__sonance.state().appends.some((a) => a.key.startsWith('warm@')), null, { timeout: 10_000 });
    assert.ok(requests.slice(n1).some((r) => r.url.searchParams.get('preset') === 'warm'), 'requested the warm rendering');
    const ct2 = await page.evaluate(() => window.__sonance.audio.currentTime);
    await waitForTime(page, ct2 + 6, 20_000);
    const ev = await events(page);
    const firstPlaying = ev.find((e) => e.ev === 'playing');
    assert.deepEqual(ev.filter((e) => e.ev === 'waiting' && e.at > firstPlaying.at), []);
    assert.equal((await state(page)).error, null);
    await page.close();
  });

  test('an undecodable file shows an alert and the next track still plays', { timeout: 60_000 }, async (tc) => {
    const bad = tracks.bad;
    if (!bad) {
      tc.skip('the server does not list the undecodable file');
      return;
    }
    const good = need('after');
    const { page } = await freshPage();
    await trackButton(page, bad.title).click();
    const alert = page.getByRole('alert');
    await page.waitForFunction(() => document.querySelector('[role=alert]').textContent.trim().length > 0, null, { timeout: 15_000 });
    const text = (await alert.textContent()).trim();
    assert.ok(/^[A-Z“"].*[.!]$/s.test(text) || text.length > 15, `a sentence: ${text}`);
    assert.ok(!/[{}]|undefined|\[object/.test(text), `plain text: ${text}`);
    await trackButton(page, good.title).click();
    await page.waitForFunction(() => window.__sonance.audio.currentTime > 1.5 && window.__sonance.state().trackId !== null, null, { timeout: 20_000 });
    assert.equal((await state(page)).error, null);
    assert.equal((await alert.textContent()).trim(), '');
    await page.close();
  });

  test('long track at 16x: buffer never spans > 90 s, JS heap stays flat', { timeout: 150_000 }, async () => {
    const t = need('long');
    const { page } = await freshPage();
    const cdp = await page.context().newCDPSession(page);
    await cdp.send('Performance.enable');
    await trackButton(page, t.title).click();
    await page.waitForFunction(() => window.__events.some((e) => e.ev === 'playing'), null, { timeout: 15_000 });
    await page.evaluate(() => {
      const a = window.__sonance.audio;
      a.playbackRate = 16;
      window.__maxSpan = 0;
      window.__maxTotal = 0;
      setInterval(() => {
        const b = window.__sonance.state().buffered;
        if (!b.length) return;
        window.__maxSpan = Math.max(window.__maxSpan, b[b.length - 1][1] - b[0][0]);
        window.__maxTotal = Math.max(window.__maxTotal, b.reduce((s, [x, y]) => s + y - x, 0));
      }, 100);
    });
    const heap = async () => {
      await cdp.send('HeapProfiler.collectGarbage');
      const m = await cdp.send('Performance.getMetrics');
      return m.metrics.find((x) => x.name === 'JSHeapUsedSize').value;
    };
    await waitForTime(page, 120, 60_000);
    const h1 = await heap();
    await waitForTime(page, 420, 90_000);
    const h2 = await heap();
    const { span, total } = await page.evaluate(() => ({ span: window.__maxSpan, total: window.__maxTotal }));
    const st = await state(page);
    console.log(`# 16x: max span ${span.toFixed(1)} s, max total ${total.toFixed(1)} s, heap ${(h1 / 1e6).toFixed(2)} → ${(h2 / 1e6).toFixed(2)} MB, fetches ${st.fetches.length}`);
    assert.ok(span <= 90, `buffered span ${span}`);
    assert.ok(total <= 90, `buffered total ${total}`);
    assert.ok(h2 - h1 < 3e6, `heap grew ${(h2 - h1) / 1e6} MB`);
    assert.equal(st.error, null);
    await cdp.detach();
    await page.close();
  });
});

/** The dominant frequency of the output right now, as the second it encodes. */
async function dominantSecond(page) {
  return page.evaluate(async () => {
    const s = window.__sonance;
    await s.audioReady();
    const ctx = s.context;
    const an = ctx.createAnalyser();
    an.fftSize = 8192; // 170 ms at 48 kHz, 5.9 Hz bins
    an.smoothingTimeConstant = 0;
    s.tap.connect(an);
    await new Promise((r) => setTimeout(r, 300));
    // Measure late inside a second, away from the frequency steps.
    for (let i = 0; i < 60; i++) {
      const f = s.audio.currentTime % 1;
      if (f > 0.45 && f < 0.85) break;
      await new Promise((r) => setTimeout(r, 20));
    }
    const t = s.audio.currentTime;
    const bins = new Float32Array(an.frequencyBinCount);
    an.getFloatFrequencyData(bins);
    s.tap.disconnect(an);
    let best = 0;
    for (let i = 1; i < bins.length; i++) if (bins[i] > bins[best]) best = i;
    const hz = (best * ctx.sampleRate) / an.fftSize;
    return { t, hz, second: Math.round((hz - 300) / 20) };
  });
}
