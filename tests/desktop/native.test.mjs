// The native output path (cpal) forced: the same page, play / pause / seek / preset switch,
// position and state from the native player, and its own MPRIS session (no media element
// plays, so the web view publishes none). The output follows the player core in Rust: MPRIS
// Next / Previous move the core and the native output with it, and the end of a track reaches
// the core from the output (the end of the queue stops).
//
// The machine has no sound card. Test 1 makes ALSA's default device the null plugin
// (~/.asoundrc), so cpal opens a real ALSA stream — which discards audio and, measured here,
// pulls it ~20× faster than real time: it checks position and state, not pace. Test 2 runs with
// no device at all (`SONANCE_NATIVE_DEVICE=none`, what a machine without ALSA devices gets):
// the silent real-time clock, where pace and underruns are checked.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';

import { launchApp, makeHome, mprisNames, dbus, tempDir, tone, until, sleep } from './driver.mjs';

const native = (app) => app.execAsync(() => window.__sonanceDesktop.nativeState());

/** The core's state, asked of the app's loopback API. */
async function coreState(app) {
  const api = await app.exec(() => window.__SONANCE_API__ ?? null);
  const res = await fetch(`${api}api/player`, { signal: AbortSignal.timeout(5000) });
  assert.equal(res.status, 200);
  return res.json();
}

async function switchRendering(app) {
  const presets = await app.execAsync(() => window.__sonance.bridge.presets());
  const cur = await app.state();
  const other = presets.find((p) => p.available !== false && p.name !== cur.preset);
  if (other) {
    await app.exec((name) => {
      const sel = document.getElementById('preset');
      sel.value = name;
      sel.dispatchEvent(new Event('change', { bubbles: true }));
    }, other.name);
    return `${other.name}@${cur.intensity}`;
  }
  await app.exec(() => {
    const r = document.getElementById('intensity');
    r.value = '50';
    r.dispatchEvent(new Event('change', { bubbles: true }));
  });
  return `${cur.preset}@0.5`;
}

test('native output on cpal (ALSA null device): play, pause, seek, switch, MPRIS', async (t) => {
  const dir = await tempDir('sonance-native-');
  const file = await tone(join(dir, 'long.flac'), { seconds: 900, title: 'Long Tone', hz: 220 });
  const mid = await tone(join(dir, 'mid.flac'), { seconds: 600, title: 'Mid Tone', hz: 330 });
  const short = await tone(join(dir, 'short.flac'), { seconds: 3, title: 'Short Tone', hz: 440 });
  const home = await makeHome({ alsaNull: true });
  const before = await mprisNames();
  const app = await launchApp({ home, files: [file, mid, short], args: ['--chunk-seconds', '5', '--native-output'] });
  try {
    assert.equal(await app.exec(() => window.__sonanceDesktop.output()), 'native');
    const label = await until(async () => {
      const text = await app.exec(() => document.getElementById('output-path')?.textContent || '');
      return /^Native audio/.test(text) ? text : null;
    }, { what: 'the page to say the native output is active' });
    t.diagnostic(`output label: ${label}`);

    // The file given plays at once, through cpal's ALSA stream; the element stays unused.
    const p1 = await until(async () => {
      const s = await native(app);
      return s.playing && s.positionS > 0.5 ? s : null;
    }, { what: 'native playback to start' });
    t.diagnostic(`device: ${p1.device}`);
    assert.match(p1.device, /ALSA/i, 'cpal opened the ALSA default device');
    assert.equal(p1.audible, true);
    assert.equal((await app.state()).nowTitle, 'Long Tone');
    assert.equal((await app.state()).audioPaused, false, 'the page shows playing');
    assert.equal(await app.exec(() => window.__sonance.audio.currentSrc || ''), '', 'the media element is not used');
    await until(async () => (await native(app)).positionS > p1.positionS + 1, { what: 'the position to advance' });

    // Pause (the page's button) holds the position.
    await app.click('#play');
    const paused = await until(async () => {
      const s = await native(app);
      return !s.playing ? s : null;
    }, { what: 'pause' });
    await sleep(800);
    const still = await native(app);
    assert.ok(Math.abs(still.positionS - paused.positionS) < 0.05, `paused holds (${paused.positionS} → ${still.positionS})`);
    assert.equal((await app.state()).audioPaused, true, 'the page shows paused');

    // Seek while paused (→ in the page: +5 s), then play from there.
    await app.exec(() => document.dispatchEvent(new KeyboardEvent('keydown', { key: 'ArrowRight', bubbles: true })));
    const sought = await until(async () => {
      const s = await native(app);
      return Math.abs(s.positionS - (still.positionS + 5)) < 0.1 ? s : null;
    }, { what: 'the seek to land 5 s later' });
    await app.click('#play');
    await until(async () => (await native(app)).positionS > sought.positionS + 1, { what: 'playback from the new position' });

    // Another rendering: playback goes on, no jump back.
    const posBefore = (await native(app)).positionS;
    t.diagnostic(`switching to ${await switchRendering(app)}`);
    await sleep(1500);
    const afterSwitch = await native(app);
    assert.ok(afterSwitch.playing && afterSwitch.positionS > posBefore, `plays on after the switch (${posBefore} → ${afterSwitch.positionS})`);

    // Exactly one OS media session: the native one.
    const names = await until(async () => {
      const n = (await mprisNames()).filter((x) => !before.includes(x));
      return n.length ? n : null;
    }, { what: 'an MPRIS player' });
    assert.deepEqual(names, ['org.mpris.MediaPlayer2.sonance']);
    const meta = (n) => dbus(`--dest=${n}`, '/org/mpris/MediaPlayer2', 'org.freedesktop.DBus.Properties.Get', 'string:org.mpris.MediaPlayer2.Player', 'string:Metadata');
    await until(async () => /Long Tone/.test(await meta(names[0])), { what: 'MPRIS Metadata' });
    await dbus(`--dest=${names[0]}`, '/org/mpris/MediaPlayer2', 'org.mpris.MediaPlayer2.Player.PlayPause');
    await until(async () => !(await native(app)).playing, { what: 'MPRIS PlayPause to pause the native output' });
    await dbus(`--dest=${names[0]}`, '/org/mpris/MediaPlayer2', 'org.mpris.MediaPlayer2.Player.PlayPause');
    await until(async () => (await native(app)).playing, { what: 'MPRIS PlayPause to resume' });

    // Next / Previous are the core's: the native output follows it. (The null device pulls
    // audio ~20× faster than real time, so positions grow fast.)
    const mpris = (method) => dbus(`--dest=${names[0]}`, '/org/mpris/MediaPlayer2', `org.mpris.MediaPlayer2.Player.${method}`);
    const ids = (await coreState(app)).tracks;
    assert.equal(ids.length, 3, 'the three files are the core’s queue');
    await mpris('Next');
    await until(async () => {
      const s = await native(app);
      return s.trackId === ids[1] && s.playing && s.positionS > 5 && (await app.state()).nowTitle === 'Mid Tone';
    }, { what: 'MPRIS Next to play the second file on the native output' });
    assert.equal((await coreState(app)).index, 1);
    await mpris('Pause');
    await until(async () => !(await native(app)).playing && (await coreState(app)).status === 'paused', { what: 'MPRIS Pause' });
    // Late in a track Previous restarts it; early, it goes back one.
    await until(async () => (await coreState(app)).position_s > 3, { what: 'the core to hear the position from the native output' });
    await mpris('Previous');
    await until(async () => {
      const s = await native(app);
      return s.trackId === ids[1] && s.positionS < 0.5;
    }, { what: 'Previous late in the track to restart it' });
    await until(async () => (await coreState(app)).position_s < 0.5, { what: 'the core to be at the start' });
    await mpris('Previous');
    await until(async () => {
      const s = await native(app);
      return s.trackId === ids[0] && !s.playing && (await app.state()).nowTitle === 'Long Tone';
    }, { what: 'Previous early in the track to go back to the first file, paused' });

    // The last file plays to its end: the native output tells the core, and the end of the
    // queue stops.
    await mpris('Next');
    await until(async () => (await coreState(app)).index === 1, { what: 'Next' });
    await mpris('Next');
    await until(async () => (await native(app)).trackId === ids[2], { what: 'Next to the short file' });
    await mpris('Play');
    await until(async () => {
      const c = await coreState(app);
      return c.status === 'stopped' && c.index === null;
    }, { what: 'the end of the last file to reach the core (the queue stops)' });
    assert.equal((await native(app)).playing, false, 'the native output stopped with the core');
  } finally {
    await app.close();
  }
});

test('native output with no audio device: a silent clock in real time, joins without underruns', async (t) => {
  const home = await makeHome();
  const app = await launchApp({ home, args: ['--chunk-seconds', '5', '--native-output'], env: { SONANCE_NATIVE_DEVICE: 'none' } });
  try {
    const label = await until(async () => {
      const text = await app.exec(() => document.getElementById('output-path')?.textContent || '');
      return /^Native audio/.test(text) ? text : null;
    }, { what: 'the output label' });
    assert.match(label, /no sound device/, 'the page says nothing is heard');
    await until(async () => (await app.state()).nowTitle === 'Sonance Demo', { what: 'the demo track to load' });
    assert.equal((await native(app)).playing, false, 'the demo waits for Play');
    await app.click('#play');
    const p1 = await until(async () => {
      const s = await native(app);
      return s.playing && s.positionS > 1 ? s : null;
    }, { what: 'native playback to advance' });
    const t1 = Date.now();
    await sleep(2000);
    const p2 = await native(app);
    const rate = (p2.positionS - p1.positionS) / ((Date.now() - t1) / 1000);
    t.diagnostic(`position advanced at ${rate.toFixed(2)}× real time`);
    assert.ok(rate > 0.85 && rate < 1.15, `real time (${rate})`);
    const elapsed = await app.exec(() => document.getElementById('elapsed').textContent);
    assert.match(elapsed, /^0:0[1-9]$/, `the page shows the native position (${elapsed})`);
    await until(async () => (await native(app)).positionS > 6.5, { timeoutMs: 20_000, what: 'playback past the join at 5 s' });
    assert.equal((await native(app)).underruns, 0, 'no underrun across the join');
    const before = (await native(app)).positionS;
    await switchRendering(app);
    await sleep(2000);
    const after = await native(app);
    assert.ok(after.positionS > before + 1.5, `plays on after a switch (${before} → ${after.positionS})`);
    assert.equal(after.underruns, 0, 'no underrun across the switch');
  } finally {
    await app.close();
  }
});
