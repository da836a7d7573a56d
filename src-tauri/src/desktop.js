// Sonance desktop adapter: the page's side of the desktop shell.
//
// The Tauri shell injects this file (src-tauri/src/app.rs, `initialization_script`) into the
// main window before the page's own scripts run; it is not subject to the page's CSP and
// uses Tauri's IPC directly. It does not fetch media: the page's bridge does that through the
// app's loopback server (or the `sonance:` scheme). Its jobs:
//   - tell the page's bridge where the stream API is (`window.__SONANCE_API__`);
//   - seed the page's settings (localStorage) from the app's settings file, once per run;
//   - open the start track (the demo, the files given, or the last track at its position);
//   - report what plays to the shell (`report`): window title, media session, queue, settings;
//   - carry out the shell's commands (media keys, MPRIS, drops): `__sonanceDesktop.command`.
// It talks to the page only through `window.__sonance` and the page's own controls, so the
// page works the same in a browser without it. Never declare a top-level `isTauri` here.
(() => {
  'use strict';
  const BOOT = /*BOOT*/ {};
  const REPORT_EVERY_MS = 2000;

  function invoke(cmd, args) {
    const t = window.__TAURI_INTERNALS__;
    if (!t || typeof t.invoke !== 'function') return Promise.reject(new Error('no IPC'));
    return t.invoke(cmd, args || {});
  }

  function log(...args) {
    try {
      console.info('[sonance desktop]', ...args);
    } catch (_) {
      /* no console */
    }
  }

  // ---- 1. settings: the app's file is the source of truth when the app starts
  try {
    if (!sessionStorage.getItem('sonance.desktop.seeded')) {
      const s = BOOT.settings || {};
      const put = (k, v) => {
        if (v !== null && v !== undefined) localStorage.setItem(k, String(v));
      };
      put('sonance.preset', s.preset);
      put('sonance.intensity', s.intensity);
      put('sonance.volume', s.volume);
      sessionStorage.setItem('sonance.desktop.seeded', '1');
    }
  } catch (_) {
    /* storage disabled: the page uses its defaults */
  }

  // ---- 2. the output path, decided before the page's scripts run: the web view's media
  // element (MSE) when it can play Opus in WebM, else — or when forced — the native output.
  // On the native path nothing may play in the page: a running AudioContext alone makes the
  // web view publish an OS media session of its own, next to the native one. Without Web
  // Audio the page falls back to plain element volume, which the native path does not use.
  // On WebKitGTK (`BOOT.webAudio` false) the web view path plays the element directly too:
  // its bridge from the element to Web Audio inserts and drops 128-frame quanta while
  // playing (1–9 jumps in each of 5 recorded runs, none with the element alone; see
  // src-tauri/README.md). The page then fades and sets the volume with element volume.
  function mseWorks() {
    try {
      return typeof MediaSource !== 'undefined' && MediaSource.isTypeSupported('audio/webm; codecs="opus"');
    } catch (_) {
      return false;
    }
  }
  const nativeReason =
    BOOT.output === 'native'
      ? 'forced (--native-output, SONANCE_OUTPUT=native or the setting)'
      : mseWorks()
        ? null
        : 'this web view cannot play Opus in WebM (MSE)';
  if (nativeReason || BOOT.webAudio === false) {
    try {
      Object.defineProperty(window, 'AudioContext', { value: undefined, configurable: true, writable: true });
      Object.defineProperty(window, 'webkitAudioContext', { value: undefined, configurable: true, writable: true });
    } catch (_) {
      /* keep it */
    }
  }

  // ---- 3. the stream API: the app's loopback server (chunks stream as they are made; the
  // URL carries the server's token) when it runs, else the bridge's default, the scheme.
  if (typeof BOOT.api === 'string') {
    Object.defineProperty(window, '__SONANCE_API__', { value: BOOT.api, configurable: false, writable: false });
  }

  let page = null; // window.__sonance
  let started = false;
  let pending = null;
  let lastSent = '';

  const $ = (id) => document.getElementById(id);

  function snapshot() {
    const p = page.player;
    const t = p.track;
    const vol = $('volume');
    return {
      trackId: t ? String(t.id) : null,
      title: t ? t.title : null,
      artist: t ? t.artist || null : null,
      album: t ? t.album || null : null,
      durationS: t ? Number(t.duration_s) || 0 : 0,
      positionS: Number(p.currentTime) || 0,
      playing: !!t && !page.audio.paused,
      // The chosen preset (the selector), not `original-matched` while A/B is on.
      preset: ($('preset') && $('preset').value) || p.preset || null,
      intensity: Number(p.intensity),
      volume: vol ? Number(vol.value) / 100 : 1,
      error: p.error || null,
    };
  }

  // The web view's own OS media session (MPRIS / SMTC / Now Playing) is the app's session
  // while the web view plays (media_session.rs says why). The page sets its metadata and
  // play/pause/seek handlers; the adapter adds what only the shell knows (the queue) and the
  // position.
  function mediaSessionHandlers() {
    const ms = navigator.mediaSession;
    if (!ms) return;
    const set = (action, fn) => {
      try {
        ms.setActionHandler(action, fn);
      } catch (_) {
        /* action not supported by this web view */
      }
    };
    set('nexttrack', () => void invoke('media', { command: 'next' }));
    set('previoustrack', () => void invoke('media', { command: 'previous' }));
    set('stop', () => command({ name: 'stop' }));
    set('seekforward', (d) => command({ name: 'seekBy', arg: (d && d.seekOffset) || 10 }));
    set('seekbackward', (d) => command({ name: 'seekBy', arg: -((d && d.seekOffset) || 10) }));
  }

  function positionState(state) {
    const ms = navigator.mediaSession;
    if (!ms || typeof ms.setPositionState !== 'function' || native) return;
    try {
      if (state.trackId && state.durationS > 0) {
        ms.setPositionState({ duration: state.durationS, position: Math.min(state.positionS, state.durationS), playbackRate: 1 });
      }
    } catch (_) {
      /* not supported */
    }
  }

  function report(force) {
    if (!page) return;
    const state = snapshot();
    positionState(state);
    const text = JSON.stringify(state);
    if (!force && text === lastSent) return;
    lastSent = text;
    invoke('report', { ui: state }).catch((e) => log('report failed', e));
  }

  function soon() {
    if (pending !== null) return;
    pending = setTimeout(() => {
      pending = null;
      report(false);
    }, 30);
  }

  function rowButton(id) {
    const rows = document.querySelectorAll('#track-list tr[data-id]');
    for (const row of rows) {
      if (row.getAttribute('data-id') === String(id)) return row.querySelector('button');
    }
    return null;
  }

  function markCurrent(id) {
    for (const row of document.querySelectorAll('#track-list tr[data-id]')) {
      const on = row.getAttribute('data-id') === String(id);
      row.classList.toggle('current', on);
      if (on) row.setAttribute('aria-current', 'true');
      else row.removeAttribute('aria-current');
    }
  }

  function playTrack(id) {
    const button = rowButton(id);
    if (button) button.click();
    else void page.player.load(id, { autoplay: true });
  }

  function clickPlay() {
    const b = $('play');
    if (b) b.click();
  }

  // ---- 3. commands from the shell
  function command(c) {
    if (!page || !c || typeof c.name !== 'string') return false;
    const p = page.player;
    switch (c.name) {
      case 'toggle':
        clickPlay();
        break;
      case 'play':
        if (!p.track || page.audio.paused) clickPlay();
        break;
      case 'pause':
        p.pause();
        break;
      case 'stop':
        p.pause();
        if (p.track) p.seek(0);
        break;
      case 'seek':
        if (p.track) p.seek(Number(c.arg) || 0);
        break;
      case 'seekBy':
        if (p.track) p.seek(p.currentTime + (Number(c.arg) || 0));
        break;
      case 'volume': {
        const v = $('volume');
        if (v) {
          v.value = String(Math.round(Math.max(0, Math.min(1, Number(c.arg))) * 100));
          v.dispatchEvent(new Event('input', { bubbles: true }));
        }
        break;
      }
      case 'playTrack':
        playTrack(String(c.arg));
        break;
      case 'message': {
        const alert = $('alert');
        if (alert) alert.textContent = String(c.arg || '');
        break;
      }
      case 'tracksChanged': {
        // New tracks in the queue: the page lists them again (what plays goes on); with
        // `restart`, `startup` then says which to play.
        const restart = !!(c.arg && c.arg.restart);
        if (typeof page.reloadTracks === 'function') {
          void Promise.resolve(page.reloadTracks()).then(() => {
            if (restart) {
              started = false;
              openStartTrack(true);
            }
          });
        } else if (restart || !p.track || page.audio.paused) {
          location.reload();
        }
        break;
      }
      default:
        return false;
    }
    soon();
    return true;
  }

  // ---- 4. the native output path keeps the page's controls: it stands in for the page's
  // Player methods (load, play, pause, seek, preset) and reports position and state back
  // through them.
  let native = null;

  function useNative(reason) {
    const p = page.player;
    const audio = page.audio;
    // Nothing plays in the page: no second A/B deck either (A/B switches the native output).
    if (page.ab) page.ab.disable();
    if (page.keySwitch) page.keySwitch.disable();
    let st = { trackId: null, positionS: 0, durationS: 0, playing: false, ended: false, device: '', audible: false, underruns: 0 };
    let endedSeen = false;
    const changed = () => p.dispatchEvent(new Event('change'));
    const call = (action, extra) =>
      invoke('native', { request: Object.assign({ action }, extra || {}) }).then(
        (s) => {
          const was = st;
          st = s;
          if (was.playing !== s.playing || was.trackId !== s.trackId) changed();
          p.dispatchEvent(new Event('time'));
          if (s.ended && !endedSeen) {
            endedSeen = true;
            p.dispatchEvent(new Event('ended'));
          }
          if (!s.ended) endedSeen = false;
          return s;
        },
        (e) => {
          const msg = (e && e.message) || String(e);
          const alert = $('alert');
          if (alert) alert.textContent = msg;
          log('native', action, 'failed:', msg);
          return st;
        },
      );
    const state0 = p.state.bind(p);
    Object.defineProperty(p, 'currentTime', { get: () => st.positionS, configurable: true });
    Object.defineProperty(audio, 'paused', { get: () => !st.playing, configurable: true });
    p.load = async (id, opts = {}) => {
      try {
        p.track = await page.bridge.track(id);
      } catch (e) {
        const alert = $('alert');
        if (alert) alert.textContent = (e && e.message) || String(e);
        p.dispatchEvent(new Event('failure'));
        return;
      }
      changed();
      await call('load', { trackId: String(id), positionS: Number(opts.position) || 0, autoplay: !!opts.autoplay, preset: p.preset, intensity: Number(p.intensity) });
    };
    p.play = () => call('play');
    p.pause = () => void call('pause');
    p.toggle = () => void call('toggle');
    p.seek = (t) => {
      if (p.track) void call('seek', { positionS: Math.max(0, Number(t) || 0) });
    };
    p.setPreset = (preset, intensity = p.intensity) => {
      p.preset = preset;
      p.intensity = Math.max(0, Math.min(1, Number(intensity)));
      if (p.track) void call('enhance', { preset: p.preset, intensity: p.intensity });
      changed();
    };
    p.setIntensity = (x) => p.setPreset(p.preset, x);
    p.bufferedRanges = () => [];
    p.processedRanges = () => [];
    p.state = () => Object.assign(state0(), { currentTime: st.positionS, paused: !st.playing, trackId: st.trackId, output: 'native', native: st });
    const vol = $('volume');
    const sendVolume = () => void call('volume', { value: Number(vol.value) / 100 });
    if (vol) {
      vol.addEventListener('input', sendVolume);
      sendVolume();
    }
    setInterval(() => {
      if (st.trackId !== null) void call('state');
    }, 250);
    native = { state: () => call('state'), reason };
    log('native output:', reason);
  }

  function showOutput(text, title) {
    const now = document.querySelector('.now');
    if (!now) return;
    let el = $('output-path');
    if (!el) {
      el = document.createElement('div');
      el.id = 'output-path';
      el.className = 'now-sub';
      now.appendChild(el);
    }
    el.textContent = text;
    el.title = title;
  }

  window.__sonanceDesktop = Object.freeze({
    command,
    report: () => report(true),
    boot: BOOT,
    output: () => (native ? 'native' : 'webview'),
    nativeState: () => (native ? native.state() : Promise.resolve(null)),
  });

  // ---- 5. the start track, once the page has listed the tracks
  function openStartTrack(force) {
    if (started || !page || (page.player.track && !force)) return;
    if (!document.querySelector('#track-list tr[data-id]')) return;
    started = true;
    invoke('startup')
      .then((start) => {
        if (!start) return;
        const show = () => {
          const alert = $('alert');
          if (alert && start.message) alert.textContent = start.message;
        };
        if (!start.trackId || (page.player.track && !force)) return show();
        markCurrent(start.trackId);
        log('start', start);
        return page.player.load(start.trackId, { autoplay: !!start.autoplay, position: Number(start.positionS) || 0 }).then(show);
      })
      .catch((e) => log('startup failed', e));
  }

  function attach() {
    page = window.__sonance || null;
    if (!page) {
      log('the page did not start (no window.__sonance)');
      return;
    }
    if (nativeReason) useNative(nativeReason);
    if (native) {
      native.state().then((s) => showOutput(`Native audio · ${s.audible ? s.device : 'no sound device (silent)'}`, `Playing through the native output: ${native.reason}`));
    } else {
      showOutput('Web view audio', 'Playing through the web view (Media Source Extensions)');
    }
    if (!native) mediaSessionHandlers();
    const audio = page.audio;
    for (const ev of ['play', 'playing', 'pause', 'ended', 'seeked', 'volumechange', 'durationchange']) {
      audio.addEventListener(ev, soon);
    }
    page.player.addEventListener('change', soon);
    const vol = $('volume');
    if (vol) vol.addEventListener('input', soon);
    setInterval(() => report(false), REPORT_EVERY_MS);

    const list = $('track-list');
    if (list) new MutationObserver(() => openStartTrack(false)).observe(list, { childList: true });
    openStartTrack(false);

    // Opening files: the page's Open button (hidden in a browser), Ctrl+O, or a drop.
    const openFiles = () => invoke('open_files').catch((err) => log('open failed', err));
    const openButton = $('open');
    if (openButton) {
      openButton.hidden = false;
      openButton.addEventListener('click', openFiles);
    }
    // Adding a folder to the library: the system's folder dialog; the library remembers it,
    // scans it in the background and watches it.
    const addFolder = $('add-folder');
    if (addFolder) {
      addFolder.hidden = false;
      addFolder.addEventListener('click', () =>
        invoke('add_folder')
          .then((added) => {
            if (added && page && page.library && typeof page.library.foldersChanged === 'function') page.library.foldersChanged();
          })
          .catch((err) => {
            const alert = $('alert');
            if (alert) alert.textContent = String((err && err.message) || err);
            log('add folder failed', err);
          }),
      );
    }
    const empty = $('empty');
    if (empty) empty.textContent = 'No tracks yet. Drop audio files or folders here, or choose Open files… (Ctrl+O).';
    document.addEventListener('keydown', (e) => {
      if ((e.ctrlKey || e.metaKey) && !e.altKey && (e.key === 'o' || e.key === 'O')) {
        e.preventDefault();
        openFiles();
      }
    });
    report(true);
  }

  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', attach, { once: true });
  else attach();
})();
