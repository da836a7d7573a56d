// Races (issue 12): random play/pause, seek, preset, intensity and track changes on the real
// page, as fast as a user clicks, then: what plays is the last choice (track, position region,
// preset@intensity, heard and appended), the player is never stuck, and nothing errs.
//
// The operations come from a seeded PRNG; the seed is printed. Reproduce a failure with
// SONANCE_RACE_SEED=<seed> (and SONANCE_RACE_OPS=<n> for more operations).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { ffmpeg, launch, openApp, sleep, startServer, tempDir, trackButton } from './helpers.mjs';

const CHUNK = 5;
const SECONDS = 60;
const STEP_HZ = 20;
/** Each track a tone whose frequency tells the track and the second: base + 20·floor(t) Hz. */
const TRACKS = [
  { title: 'Race Alpha', base: 300 },
  { title: 'Race Bravo', base: 1600 },
  { title: 'Race Charlie', base: 2900 },
];
const SEED = Number(process.env.SONANCE_RACE_SEED ?? (Date.now() % 2 ** 31)) >>> 0;
const OPS = Math.max(100, Number(process.env.SONANCE_RACE_OPS ?? 120) | 0);
const ROUNDS = 4;

let dir, server, browser;
/** title → id */
const ids = {};

/** mulberry32: a small seeded PRNG (uniform in [0, 1)). */
function prng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

before(async () => {
  dir = await tempDir();
  const files = await Promise.all(
    TRACKS.map(async (t, i) => {
      const file = join(dir, `race${i}.flac`);
      await ffmpeg([
        '-f',
        'lavfi',
        '-i',
        `aevalsrc=0.4*sin(2*PI*(${t.base}+${STEP_HZ}*floor(t))*t):s=48000:d=${SECONDS}`,
        '-ac',
        '2',
        '-metadata',
        `title=${t.title}`,
        '-metadata',
        'artist=Races',
        '-metadata',
        'album=Races',
        file,
      ]);
      return file;
    }),
  );
  server = await startServer(files, { chunkSeconds: CHUNK });
  const deadline = Date.now() + 30_000;
  for (;;) {
    const list = await (await fetch(new URL('api/tracks', server.url))).json();
    for (const t of TRACKS) ids[t.title] = list.find((x) => x.title === t.title)?.id;
    if (TRACKS.every((t) => ids[t.title] !== undefined)) break;
    if (Date.now() > deadline) assert.fail(`the library did not list the test tracks: ${JSON.stringify(list.map((x) => x.title))}`);
    await sleep(200);
  }
  browser = await launch();
});

after(async () => {
  await browser?.close();
  await server?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('races', () => {
  test(`${OPS} random operations: the last choice plays, never stuck, no error (seed ${SEED})`, { timeout: 150_000 }, async () => {
    console.log(`# races: SONANCE_RACE_SEED=${SEED} SONANCE_RACE_OPS=${OPS}`);
    const rnd = prng(SEED);
    const pick = (xs) => xs[Math.floor(rnd() * xs.length)];
    const { page, consoleErrors } = await openApp(browser.context, server.url);
    await page.waitForFunction(() => window.__sonance.core?.remote === true, null, { timeout: 10_000 });
    await page.waitForFunction(() => document.querySelectorAll('#preset option').length > 1, null, { timeout: 10_000 });
    // Responses come back late and out of order (a second PRNG, so the operations stay the seed's).
    const lag = prng(SEED ^ 0x5eed);
    await page.route(/\/chunks\/\d+\.webm/, async (route) => {
      const r = lag();
      if (r < 0.4) await sleep(r * 1500);
      await route.continue().catch(() => {});
    });
    const presets = await page.$$eval('#preset option', (os) => os.map((o) => o.value));
    const trace = [];
    const stamps = [];
    const note = (s) => {
      trace.push(s);
      stamps.push({ op: s, at: Date.now() });
    };
    // For a failure's record: the page's clock (performance.now) against ours.
    const pageEpoch = await page.evaluate(() => Date.now() - performance.now());

    // What the user chose last.
    const want = { title: null, pos: 0, posAt: 0, preset: null, intensity: null, playing: false };
    const initial = await page.evaluate(() => ({ preset: window.__sonance.player.preset, intensity: window.__sonance.player.intensity }));
    want.preset = initial.preset;
    want.intensity = initial.intensity;

    const ops = {
      async track() {
        const t = pick(TRACKS);
        note(`click ${t.title}`);
        await trackButton(page, t.title).click();
        Object.assign(want, { title: t.title, pos: 0, posAt: Date.now(), playing: true });
      },
      async next() {
        // The queue is the songs view in order (a click hands it to the core).
        const order = await page.$$eval('#track-list tr[data-id] .track-title', (bs) => bs.map((b) => b.textContent));
        const i = order.indexOf(want.title);
        if (want.title === null || i < 0 || i + 1 >= order.length) return ops.track();
        note(rnd() < 0.5 ? 'Next button' : 'N');
        if (trace.at(-1) === 'N') await page.locator('body').press('n');
        else await page.getByRole('button', { name: 'Next', exact: true }).click();
        Object.assign(want, { title: order[i + 1], pos: 0, posAt: Date.now() });
      },
      async toggle() {
        if (want.title === null) return ops.track();
        note(rnd() < 0.5 ? 'Play button' : 'Space');
        if (trace.at(-1) === 'Space') await page.locator('body').press('Space');
        else await page.locator('#play').click();
        want.playing = !want.playing;
      },
      async seek() {
        if (want.title === null) return ops.track();
        const t = Math.round(rnd() * (SECONDS - 10) * 10) / 10;
        note(`seek ${t}`);
        await page.evaluate((x) => {
          const input = document.getElementById('seek');
          input.value = String(x);
          input.dispatchEvent(new Event('input', { bubbles: true }));
          input.dispatchEvent(new Event('change', { bubbles: true }));
        }, t);
        Object.assign(want, { pos: t, posAt: Date.now() });
      },
      async step() {
        if (want.title === null) return ops.track();
        const fwd = rnd() < 0.6;
        const ct = await page.evaluate(() => window.__sonance.player.currentTime);
        if ((fwd && ct > SECONDS - 12) || (!fwd && ct < 6)) return ops.seek();
        note(fwd ? `→ from ${ct.toFixed(2)}` : `← from ${ct.toFixed(2)}`);
        await page.locator('body').press(fwd ? 'ArrowRight' : 'ArrowLeft');
        Object.assign(want, { pos: ct + (fwd ? 5 : -5), posAt: Date.now() });
      },
      async preset() {
        const p = pick(presets.filter((x) => x !== want.preset));
        note(`preset ${p}`);
        await page.getByRole('combobox', { name: 'Preset' }).selectOption(p);
        want.preset = p;
      },
      async intensity() {
        const v = pick([0, 25, 50, 75, 100].filter((x) => x !== Math.round(want.intensity * 100)));
        note(`intensity ${v}`);
        await page.evaluate((x) => {
          const input = document.getElementById('intensity');
          input.value = String(x);
          input.dispatchEvent(new Event('input', { bubbles: true }));
          input.dispatchEvent(new Event('change', { bubbles: true }));
        }, v);
        want.intensity = v / 100;
      },
    };
    const weighted = [
      ['track', 3],
      ['next', 1],
      ['toggle', 2],
      ['seek', 4],
      ['step', 1],
      ['preset', 2],
      ['intensity', 2],
    ].flatMap(([k, w]) => Array(w).fill(k));

    const started = Date.now();
    let done = 0;
    for (let round = 0; round < ROUNDS; round++) {
      const n = round === ROUNDS - 1 ? OPS - done : Math.round(OPS / ROUNDS);
      for (let i = 0; i < n; i++, done++) {
        await ops[pick(weighted)]();
        // As fast as a user: mostly quick clicks, sometimes a pause.
        const r = rnd();
        await sleep(r < 0.6 ? rnd() * 60 : r < 0.9 ? 60 + rnd() * 300 : 400 + rnd() * 900);
      }
      if (want.title === null) await ops.track();
      note(`— settle after ${done} ops`);
      try {
        await settleAndCheck(page, want, round, trace, consoleErrors);
      } catch (e) {
        await record(page, { seed: SEED, round, want, ops: stamps.map((x) => ({ op: x.op, at: Math.round(x.at - pageEpoch) })) });
        throw e;
      }
    }
    console.log(`# races: ${done} operations in ${((Date.now() - started) / 1000).toFixed(1)} s`);
    await page.close();
  });
});

describe('a click right after a seek', () => {
  test('the clicked track starts at 0, not where a seek still pending went', { timeout: 60_000 }, async () => {
    const { page, consoleErrors } = await openApp(browser.context, server.url);
    await page.waitForFunction(() => window.__sonance.core?.remote === true, null, { timeout: 10_000 });
    // Slow chunks: nothing is in the buffer yet when the seek comes, and the seek is still
    // pending when the click comes.
    let slow = true;
    await page.route(/\/chunks\/\d+\.webm/, async (route) => {
      // Long enough that the seek cannot complete before the click, however loaded the machine.
      if (slow) await sleep(5000);
      await route.continue().catch(() => {});
    });
    const alpha = TRACKS[0].title;
    await trackButton(page, alpha).click();
    await page.waitForFunction((id) => String(window.__sonance.state().trackId) === id && window.__sonance.state().phase === 'loading', String(ids[alpha]), {
      timeout: 10_000,
      polling: 10,
    });
    await page.evaluate(() => {
      const input = document.getElementById('seek');
      input.value = '40';
      input.dispatchEvent(new Event('input', { bubbles: true }));
      input.dispatchEvent(new Event('change', { bubbles: true }));
    });
    await page.waitForFunction(() => window.__sonance.audio.currentTime > 39, null, { timeout: 5_000, polling: 10 });
    slow = false;
    const clickAt = await page.evaluate(() => performance.now());
    await trackButton(page, alpha).click();
    await page.waitForFunction(
      (at) => window.__events.some((e) => e.ev === 'playing' && e.at > at) && window.__sonance.state().phase === 'streaming',
      clickAt,
      { timeout: 20_000 },
    );
    const played = await page.evaluate((at) => window.__events.filter((e) => e.ev === 'playing' && e.at > at).map((e) => e.t), clickAt);
    const ct = await page.evaluate(() => window.__sonance.player.currentTime);
    assert.ok(ct < 10, `the clicked track plays at ${ct.toFixed(2)} s, not from its start`);
    assert.ok(played.every((t) => t < 1), `it started playing at ${JSON.stringify(played)}`);
    assert.deepEqual(consoleErrors, []);
    await page.close();
  });
});

/** After the operations: the last choice plays, the player moves, nothing went wrong. */
async function settleAndCheck(page, want, round, trace, consoleErrors) {
  const ctx = () => `seed ${SEED}, round ${round}; last operations: ${trace.slice(-12).join(' | ')}`;
  const id = String(ids[want.title]);
  const key = `${want.preset}@${String(Math.round(want.intensity * 100) / 100)}`;
  // The choice reaches the player (a click goes through the core, the intensity through a
  // 150 ms debounce, a seek made while the track loads lands after it) and the policy is done
  // with it (no seek, switch or load pending).
  const region = () => [want.pos - 1, want.pos + (Date.now() - want.posAt) / 1000 + 1];
  const reached = await page
    .waitForFunction(
      ([id, key, pos, posAt]) => {
        const s = window.__sonance.state();
        const since = (Date.now() - posAt) / 1000;
        return (
          String(s.trackId) === id &&
          s.key === key &&
          (s.phase === 'streaming' || s.phase === 'complete') &&
          s.currentTime >= pos - 1 &&
          s.currentTime <= pos + since + 1
        );
      },
      [id, key, want.pos, want.posAt],
      { timeout: 20_000, polling: 100 },
    )
    .then(() => true)
    .catch(() => false);
  const s0 = await page.evaluate(() => window.__sonance.state());
  // The core hears an intensity after the page's 150 ms debounce (the player has it at once,
  // through a switch deck): give its echo a moment before comparing.
  await page
    .waitForFunction(
      ([id, preset, intensity]) => {
        const c = window.__sonance.core.state();
        return c.index !== null && c.tracks[c.index] === id && c.preset === preset && Math.abs(c.intensity - intensity) < 0.001;
      },
      [id, want.preset, want.intensity],
      { timeout: 5_000, polling: 100 },
    )
    .catch(() => {});
  const core = await page.evaluate(() => {
    const c = window.__sonance.core.state();
    return { current: c.index === null ? null : c.tracks[c.index], preset: c.preset, intensity: c.intensity };
  });
  const [lo, hi] = region();
  assert.ok(
    reached,
    `the player did not reach ${want.title} (${id}) with ${key} in [${lo.toFixed(2)}, ${hi.toFixed(2)}] s: it holds ${s0.trackId} with ${s0.key} at ${s0.currentTime.toFixed(2)} s, phase ${s0.phase}, error ${s0.error}; ${ctx()}`,
  );
  assert.deepEqual(core, { current: id, preset: want.preset, intensity: want.intensity }, `the core disagrees; ${ctx()}`);
  // Play or pause as last chosen.
  const asChosen = await page
    .waitForFunction((p) => window.__sonance.audio.paused === !p, want.playing, { timeout: 5_000 })
    .then(() => true)
    .catch(() => false);
  assert.ok(asChosen, `the page should be ${want.playing ? 'playing' : 'paused'}: ${ctx()}`);
  if (!want.playing) {
    await page.locator('#play').click();
    want.playing = true;
    // The position does not move while paused.
    want.pos = await page.evaluate(() => window.__sonance.player.currentTime);
    want.posAt = Date.now();
    trace.push('Play (check)');
  }
  // Never stuck: currentTime moves on within a capped wait.
  const t0 = await page.evaluate(() => window.__sonance.player.currentTime);
  const moved = await page
    .waitForFunction((x) => !window.__sonance.audio.paused && window.__sonance.player.currentTime > x + 1.2, t0, { timeout: 15_000, polling: 100 })
    .then(() => true)
    .catch(() => false);
  const s = await page.evaluate(() => window.__sonance.state());
  assert.ok(moved, `stuck at ${s.currentTime.toFixed(2)} (from ${t0.toFixed(2)}; paused ${s.paused}, phase ${s.phase}, waiting ${s.waiting}, buffered ${JSON.stringify(s.buffered)}, inflight ${JSON.stringify(s.inflight)}); ${ctx()}`);
  // Nothing played from elsewhere after the last seek or track change (e.g. from the track's
  // start before a seek made while it loaded).
  const strays = await page.evaluate(
    ([posAt, lo]) => window.__events.filter((e) => e.ev === 'playing' && e.at + performance.timeOrigin >= posAt && e.t < lo),
    [want.posAt, want.pos - 1],
  );
  assert.deepEqual(strays, [], `played from elsewhere after the last seek to ${want.pos.toFixed(2)}; ${ctx()}`);
  // What is in the buffer at the playhead was appended last for this choice.
  const at = s.currentTime;
  const cover = s.appends.filter((a) => a.windowStart <= at && at < a.windowEnd).at(-1);
  assert.ok(cover, `no append covers the playhead ${at.toFixed(2)}; ${ctx()}`);
  assert.equal(cover.key, key, `the media at the playhead came from ${cover.key}, not ${key}: ${JSON.stringify(cover)}; ${ctx()}`);
  assert.equal(cover.epoch, s.epoch, `the media at the playhead is from epoch ${cover.epoch}, the player is at ${s.epoch}; ${ctx()}`);
  // Hear it: the track's tone, at the second of the playhead.
  const heard = await dominant(page);
  const base = TRACKS.find((t) => t.title === want.title).base;
  const second = (heard.hz - base) / STEP_HZ;
  assert.ok(
    second > -0.6 && second < SECONDS && Math.abs(second - Math.floor(heard.t)) <= 1.2,
    `heard ${heard.hz.toFixed(0)} Hz at ${heard.t.toFixed(2)} s: ${want.title} would be ${base + STEP_HZ * Math.floor(heard.t)} Hz; ${ctx()}`,
  );
  assert.equal(s.error, null, `player error: ${s.error}; ${ctx()}`);
  assert.equal((await page.locator('#alert').textContent()).trim(), '', `an alert is shown; ${ctx()}`);
  assert.deepEqual(consoleErrors, [], `console errors; ${ctx()}`);
}

/** A failure's record (the page's logs, the operations on the page's clock) beside the test's temporary files. */
async function record(page, extra) {
  const file = join(tmpdir(), `sonance-races-${SEED}.json`);
  const s = await page.evaluate(() => ({ state: window.__sonance.state(), core: window.__sonance.core.state(), events: window.__events }));
  await writeFile(file, JSON.stringify({ ...extra, ...s }, null, 1));
  console.log(`# races: the failure's record is in ${file}`);
}

/** The dominant frequency of the output now (Web Audio tap), away from the second's edges. */
async function dominant(page) {
  return page.evaluate(async () => {
    const s = window.__sonance;
    await s.audioReady();
    const ctx = s.context;
    const an = ctx.createAnalyser();
    an.fftSize = 8192;
    an.smoothingTimeConstant = 0;
    s.tap.connect(an);
    await new Promise((r) => setTimeout(r, 250));
    for (let i = 0; i < 60; i++) {
      const f = s.player.currentTime % 1;
      if (f > 0.45 && f < 0.85) break;
      await new Promise((r) => setTimeout(r, 20));
    }
    const t = s.player.currentTime;
    const bins = new Float32Array(an.frequencyBinCount);
    an.getFloatFrequencyData(bins);
    s.tap.disconnect(an);
    let best = 0;
    for (let i = 1; i < bins.length; i++) if (bins[i] > bins[best]) best = i;
    return { t, hz: (best * ctx.sampleRate) / an.fftSize };
  });
}
