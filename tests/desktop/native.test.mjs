// The native output path (cpal) forced: the same page, play / pause / seek / preset switch,
// position and state from the native player, and its own MPRIS session (no media element
// plays, so the web view publishes none). The machine has no sound card: ALSA's default
// device is the null plugin (~/.asoundrc), so cpal opens a real ALSA stream that discards the
// audio. (With no ALSA device at all the player runs on a silent real-time clock and the page
// says so; `SONANCE_NATIVE_DEVICE=none` forces that.)
import { test } from 'node:test';
import assert from 'node:assert/strict';

import { launchApp, makeHome, mprisNames, dbus, until, sleep } from './driver.mjs';

const native = (app) => app.execAsync(() => window.__sonanceDesktop.nativeState());

test('native output: play, pause, seek, switch rendering, MPRIS', async (t) => {
  const home = await makeHome({ alsaNull: true });
  const before = await mprisNames();
  const app = await launchApp({ home, args: ['--chunk-seconds', '5', '--native-output'] });
  try {
    assert.equal(await app.exec(() => window.__sonanceDesktop.output()), 'native');
    const label = await until(async () => {
      const text = await app.exec(() => document.getElementById('output-path')?.textContent || '');
      return /^Native audio/.test(text) ? text : null;
    }, { what: 'the page to say the native output is active' });
    t.diagnostic(`output label: ${label}`);
    await until(async () => (await app.state()).nowTitle === 'Sonance Demo', { what: 'the demo track to load' });
    const s0 = await native(app);
    t.diagnostic(`device: ${s0.device} (audible: ${s0.audible})`);
    assert.match(s0.device, /ALSA/i, 'cpal opened the ALSA default device');
    assert.equal(s0.audible, true);
    assert.equal(s0.playing, false);

    // Play: the position advances in real time, the page shows it, the element stays silent.
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
    assert.ok(rate > 0.8 && rate < 1.2, `real time (${rate})`);
    assert.equal((await app.state()).audioPaused, false, 'the page shows playing');
    assert.equal(await app.exec(() => window.__sonance.audio.currentSrc || ''), '', 'the media element is not used');
    const elapsed = await app.exec(() => document.getElementById('elapsed').textContent);
    assert.match(elapsed, /^0:0[1-9]$/, `the page shows the native position (${elapsed})`);

    // Across the first chunk join at 5 s without underruns.
    await until(async () => (await native(app)).positionS > 6, { timeoutMs: 20_000, what: 'playback past the join' });
    assert.equal((await native(app)).underruns, 0, 'no underrun across the join');

    // Pause holds the position.
    await app.click('#play');
    const paused = await until(async () => {
      const s = await native(app);
      return !s.playing ? s : null;
    }, { what: 'pause' });
    await sleep(800);
    const still = await native(app);
    assert.ok(Math.abs(still.positionS - paused.positionS) < 0.05, `paused holds (${paused.positionS} → ${still.positionS})`);

    // Seek (→ in the page: +5 s) while paused, then play from there.
    await app.exec(() => document.dispatchEvent(new KeyboardEvent('keydown', { key: 'ArrowRight', bubbles: true })));
    const sought = await until(async () => {
      const s = await native(app);
      return Math.abs(s.positionS - (still.positionS + 5)) < 0.1 ? s : null;
    }, { what: 'the seek to land 5 s later' });
    await app.click('#play');
    await until(async () => (await native(app)).positionS > sought.positionS + 1, { what: 'playback from the new position' });

    // Another rendering (preset or intensity): playback goes on without a jump back.
    const presets = await app.execAsync(() => window.__sonance.bridge.presets());
    const cur = await app.state();
    const other = presets.find((p) => p.available !== false && p.name !== cur.preset);
    const posBefore = (await native(app)).positionS;
    if (other) {
      await app.exec((name) => {
        const sel = document.getElementById('preset');
        sel.value = name;
        sel.dispatchEvent(new Event('change', { bubbles: true }));
      }, other.name);
    } else {
      await app.exec(() => {
        const r = document.getElementById('intensity');
        r.value = '50';
        r.dispatchEvent(new Event('change', { bubbles: true }));
      });
    }
    await sleep(2500);
    const afterSwitch = await native(app);
    assert.ok(afterSwitch.playing && afterSwitch.positionS > posBefore + 1.5, `plays on after the switch (${posBefore} → ${afterSwitch.positionS})`);

    // Its own MPRIS session, exactly one.
    const names = await until(async () => {
      const n = (await mprisNames()).filter((x) => !before.includes(x));
      return n.length ? n : null;
    }, { what: 'an MPRIS player' });
    assert.deepEqual(names, ['org.mpris.MediaPlayer2.sonance']);
    await until(async () => /Sonance Demo/.test(await dbus('--dest=org.mpris.MediaPlayer2.sonance', '/org/mpris/MediaPlayer2', 'org.freedesktop.DBus.Properties.Get', 'string:org.mpris.MediaPlayer2.Player', 'string:Metadata')), { what: 'MPRIS Metadata' });
    await dbus('--dest=org.mpris.MediaPlayer2.sonance', '/org/mpris/MediaPlayer2', 'org.mpris.MediaPlayer2.Player.PlayPause');
    await until(async () => !(await native(app)).playing, { what: 'MPRIS PlayPause to pause the native output' });
  } finally {
    await app.close();
  }
});
