// Sonance desktop boot script: the little that must run before the page's own scripts.
//
// The Tauri shell injects this file (src-tauri/src/app.rs, `initialization_script`) into the
// main window ahead of every script of the page. Everything else the page does in the app
// lives in the page's own code (ui/src/desktop.ts, started by ui/src/main.ts when
// `window.__TAURI_INTERNALS__` exists): reports, the native output path, the dialogs. The
// player core is the app's, which the page follows over the stream API as in a browser.
//
// Why these two things must stay here, before the page's scripts:
//   - the stream API's base (`window.__SONANCE_API__`): the page's bridge reads it when it is
//     built, at the page's first line of code, and its first requests go there;
//   - the output path, and with it hiding `AudioContext`: the page's audio output decides
//     whether to route the element through Web Audio when it is built, so the constructor
//     must already be gone by then (see below).
// Never declare a top-level `isTauri` here (Tauri defines it).
(() => {
  'use strict';
  const BOOT = /*BOOT*/ {};

  // ---- 1. the output path: the web view's media element (MSE) when it can play Opus in
  // WebM, else — or when forced — the native output. On the native path nothing may play in
  // the page: a running AudioContext alone makes the web view publish an OS media session of
  // its own, next to the native one. Without Web Audio the page falls back to plain element
  // volume, which the native path does not use. On WebKitGTK (`BOOT.webAudio` false) the web
  // view path plays the element directly too: its bridge from the element to Web Audio
  // inserts and drops 128-frame quanta while playing (1–9 jumps in each of 5 recorded runs,
  // none with the element alone; see src-tauri/README.md). The page then fades and sets the
  // volume with element volume.
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

  // ---- 2. the stream API: the app's loopback server (chunks stream as they are made; the
  // URL carries the server's token) when it runs, else the bridge's default, the scheme.
  if (typeof BOOT.api === 'string') {
    Object.defineProperty(window, '__SONANCE_API__', { value: BOOT.api, configurable: false, writable: false });
  }

  // What was decided, for ui/src/desktop.ts.
  Object.defineProperty(window, '__SONANCE_BOOT__', {
    value: Object.freeze(Object.assign({}, BOOT, { nativeReason })),
    configurable: false,
    writable: false,
  });
})();
