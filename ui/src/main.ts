/**
 * Page entry: builds the player and wires the page's controls to it.
 * No framework; the markup lives in index.html.
 */
import { AB_PRESET, AbSwitch, type AbState } from './ab';
import { Bridge, type Preset, type Track, type TrackId } from './bridge';
import { formatTime } from './format';
import { AudioOutput } from './output';
import { messageOf, Player, type PlayerState } from './player';
import { $ } from './ui/dom';
import { NowCover } from './library/covers';
import { PlayQueue, type TrackSource } from './library/queue';
import { Library } from './library/views';
import { SeekBar } from './ui/seekBar';

declare global {
  interface Window {
    __sonance?: {
      audio: HTMLAudioElement;
      readonly context: AudioContext | null;
      readonly tap: AudioNode | null;
      /** Resolves once the element is routed through Web Audio (true) or not (false). */
      audioReady(): Promise<boolean>;
      state(): PlayerState;
      player: Player;
      bridge: Bridge;
      /** Fetch the track list again (the desktop app added files); what plays goes on. */
      reloadTracks?(): Promise<void>;
      /** The library views (search, songs, albums, artists). */
      library?: Library;
      /** Ids of the songs view's tracks in order (what a queue would get). */
      viewIds?(): Promise<TrackId[]>;
      /** The A/B switch (its second deck): the desktop's native path disables it. */
      ab: AbSwitch;
      abState(): AbState;
    };
  }
}

const STORE_PRESET = 'sonance.preset';
const STORE_INTENSITY = 'sonance.intensity';
const STORE_VOLUME = 'sonance.volume';
const VOLUME_STEP = 5;

function stored(key: string): string | null {
  try {
    return localStorage.getItem(key);
  } catch {
    return null;
  }
}

function store(key: string, value: string): void {
  try {
    localStorage.setItem(key, value);
  } catch {
    /* private mode */
  }
}

function start(): void {
  const audio = $('audio') as HTMLAudioElement;
  const bridge = new Bridge();
  const output = new AudioOutput(audio);
  const player = new Player(audio, bridge, output);
  // The A/B original plays on a second, silent deck, so a flip is a cross-fade (ab.ts).
  const ab = new AbSwitch(player, output, () => {
    const el = document.createElement('audio');
    const out = new AudioOutput(el, output.context);
    out.setVolume(Number(($('volume') as HTMLInputElement).value) / 100);
    return { player: new Player(el, bridge, out), output: out };
  });

  const exposed: NonNullable<Window['__sonance']> = {
    audio,
    get context() {
      return output.context;
    },
    get tap() {
      return output.tap;
    },
    audioReady: () => output.ensure().then(() => output.webAudio),
    state: () => player.state(),
    player,
    bridge,
    ab,
    abState: () => ab.state(),
  };
  window.__sonance = exposed;

  const playBtn = $('play') as HTMLButtonElement;
  const alertEl = $('alert');
  const nowTitle = $('now-title');
  const nowSub = $('now-sub');
  const elapsed = $('elapsed');
  const total = $('total');
  const presetSel = $('preset') as HTMLSelectElement;
  const intensity = $('intensity') as HTMLInputElement;
  const volume = $('volume') as HTMLInputElement;
  const seekInput = $('seek') as HTMLInputElement;
  const abBtn = $('ab') as HTMLButtonElement;
  const presetDesc = $('preset-desc');
  const descriptions = new Map<string, string>();
  /** A/B on: `original-matched` plays while the selector keeps the chosen preset. */
  let abOn = false;

  let autoAdvanced = false;
  let preview: number | null = null;

  // A track the desktop shell started directly goes on through the songs view.
  const queue: PlayQueue = new PlayQueue(() => library.songs.source);
  const nowCover = new NowCover($('now-cover') as HTMLImageElement, bridge, 96);
  /** What the list said about the track that plays (cover, …), when it was started from a list. */
  let currentMeta: Track | null = null;

  const library = new Library(bridge, {
    play: (source, index) => {
      autoAdvanced = false;
      void playFrom(source, index);
    },
    message: (text) => showMessage(text),
  });
  exposed.library = library;
  exposed.viewIds = () => library.ids();

  const seekBar = new SeekBar(
    seekInput,
    $('processed'),
    $('buffered'),
    $('played'),
    (t) => player.seek(t),
    (t) => {
      preview = t;
      renderTime();
    },
  );

  let currentId: TrackId | null = null;

  async function playTrack(t: Track): Promise<void> {
    currentId = t.id;
    currentMeta = t;
    library.setCurrent(t.id);
    await player.load(t.id, { autoplay: true });
  }

  /** Play `index` of `source` (a view's list, an album); what follows comes from it. */
  async function playFrom(source: TrackSource, index: number): Promise<void> {
    const t = source.get(index) ?? (await source.at(index));
    if (!t) return;
    queue.start(source, index);
    await playTrack(t);
  }

  // ---- rendering
  function renderButton(): void {
    const playing = !audio.paused && player.track !== null;
    const label = playing ? 'Pause' : 'Play';
    if (playBtn.getAttribute('aria-label') !== label) {
      playBtn.setAttribute('aria-label', label);
      playBtn.title = `${label} (Space)`;
    }
    playBtn.classList.toggle('is-playing', playing);
  }

  function renderTime(): void {
    const t = preview ?? player.currentTime;
    elapsed.textContent = formatTime(t);
    total.textContent = formatTime(player.duration);
    seekBar.update(t, player.bufferedRanges(), player.processedRanges());
  }

  let intensityTimer: ReturnType<typeof setTimeout> | null = null;

  function renderTrack(): void {
    const t = player.track;
    nowTitle.textContent = t ? t.title : 'Nothing playing';
    nowSub.textContent = t ? [t.artist, t.album].filter(Boolean).join(' — ') : '';
    let meta = t && currentMeta && String(currentMeta.id) === String(t.id) ? currentMeta : null;
    if (t && !meta) {
      // Started by the desktop shell: what the songs view knows about it, if it is at hand.
      const src = library.songs.source;
      meta = src.get(src.findLoaded((x) => String(x.id) === String(t.id))) ?? null;
      if (meta) currentMeta = meta;
    }
    nowCover.show(t ? t.id : null, meta?.has_cover);
    seekBar.setDuration(t?.duration_s ?? 0);
    if (!abOn && presetSel.value !== player.preset && [...presetSel.options].some((o) => o.value === player.preset)) {
      presetSel.value = player.preset;
    }
    const iv = String(Math.round(player.intensity * 100));
    // Never overwrite a change the user made that is still waiting for its debounce.
    if (intensity.value !== iv && document.activeElement !== intensity && intensityTimer === null) {
      intensity.value = iv;
    }
  }

  function renderPreset(): void {
    abBtn.setAttribute('aria-pressed', String(abOn));
    abBtn.disabled = !descriptions.has(AB_PRESET) || presetSel.value === AB_PRESET;
    presetDesc.textContent = abOn ? `B: ${descriptions.get(AB_PRESET) ?? AB_PRESET}` : (descriptions.get(presetSel.value) ?? '');
    presetDesc.title = presetDesc.textContent;
  }

  function setAb(on: boolean): void {
    abOn = on && descriptions.has(AB_PRESET) && presetSel.value !== AB_PRESET;
    ab.set(abOn, presetSel.value);
    renderPreset();
  }

  function showMessage(msg: string | null): void {
    alertEl.textContent = msg ?? '';
  }

  player.addEventListener('change', () => {
    renderButton();
    renderTrack();
    renderTime();
  });
  player.addEventListener('time', renderTime);
  player.addEventListener('message', (e) => showMessage((e as CustomEvent<string | null>).detail));
  player.addEventListener('failure', () => {
    library.setCurrent(currentId, true);
    if (autoAdvanced) {
      // Continuous play: skip the track that failed, keep the message visible.
      const msg = player.error;
      const failed = currentId;
      void queue.next(failed).then((next) => {
        if (!next || String(currentId) !== String(failed)) return;
        void playTrack(next).then(() => {
          if (!player.error) showMessage(msg);
        });
      });
    }
  });
  player.addEventListener('ended', () => {
    const ended = player.track?.id ?? null;
    if (ended === null) return;
    void queue.next(ended).then((next) => {
      // Nothing else started meanwhile.
      if (next && player.track && String(player.track.id) === String(ended)) {
        autoAdvanced = true;
        void playTrack(next);
      }
    });
  });
  setInterval(renderTime, 250);

  // ---- controls
  playBtn.addEventListener('click', () => {
    if (!player.track) {
      const first = library.firstSource();
      autoAdvanced = false;
      void playFrom(first.source, first.index);
      return;
    }
    player.toggle();
  });

  presetSel.addEventListener('change', () => {
    store(STORE_PRESET, presetSel.value);
    abOn = false;
    ab.set(false, presetSel.value);
    player.setPreset(presetSel.value);
    renderPreset();
  });

  abBtn.addEventListener('click', () => setAb(!abOn));
  // Reaching for A/B starts its deck, so the first flip is instant too.
  for (const ev of ['pointerenter', 'focus']) abBtn.addEventListener(ev, () => ab.warm(presetSel.value));

  intensity.addEventListener('change', () => {
    if (intensityTimer !== null) clearTimeout(intensityTimer);
    // The value the user chose, read now: a re-render may reset the slider before the timer.
    const x = Number(intensity.value) / 100;
    intensityTimer = setTimeout(() => {
      intensityTimer = null;
      store(STORE_INTENSITY, String(x));
      player.setIntensity(x);
    }, 150);
  });

  function stepVolume(delta: number): void {
    volume.value = String(Math.max(0, Math.min(100, Number(volume.value) + delta)));
    volume.dispatchEvent(new Event('input', { bubbles: true }));
  }

  volume.addEventListener('input', () => {
    const v = Number(volume.value) / 100;
    output.setVolume(v);
    ab.setVolume(v);
    store(STORE_VOLUME, String(v));
  });

  document.addEventListener('keydown', (e) => {
    if (e.defaultPrevented || e.ctrlKey || e.metaKey || e.altKey) return;
    const t = e.target as HTMLElement | null;
    const tag = t?.tagName;
    if (tag === 'SELECT' || tag === 'TEXTAREA' || (tag === 'INPUT' && (t as HTMLInputElement).type !== 'range')) return;
    const otherSlider = tag === 'INPUT' && t !== seekInput;
    if (e.key === ' ' || e.code === 'Space') {
      e.preventDefault();
      if (!e.repeat) playBtn.click();
    } else if ((e.key === 'ArrowLeft' || e.key === 'ArrowRight') && !otherSlider) {
      if (!player.track) return;
      e.preventDefault();
      player.seek(player.currentTime + (e.key === 'ArrowLeft' ? -5 : 5));
    } else if ((e.key === 'ArrowUp' || e.key === 'ArrowDown') && !otherSlider) {
      e.preventDefault();
      stepVolume(e.key === 'ArrowUp' ? VOLUME_STEP : -VOLUME_STEP);
    } else if ((e.key === 'b' || e.key === 'B') && !e.repeat) {
      e.preventDefault();
      abBtn.click();
    }
  });
  // Buttons activate on Space keyup: the keydown handler already toggled.
  document.addEventListener('keyup', (e) => {
    if (e.key === ' ' || e.code === 'Space') {
      const tag = (e.target as HTMLElement | null)?.tagName;
      if (tag !== 'SELECT' && tag !== 'TEXTAREA') e.preventDefault();
    }
  });

  // ---- restore settings
  const vol = Number(stored(STORE_VOLUME) ?? '1');
  if (Number.isFinite(vol)) {
    volume.value = String(Math.round(vol * 100));
    output.setVolume(vol);
  }
  const inten = Number(stored(STORE_INTENSITY) ?? '1');
  if (Number.isFinite(inten)) player.intensity = Math.max(0, Math.min(1, inten));
  intensity.value = String(Math.round(player.intensity * 100));

  // ---- load library
  void loadPresets(bridge, player, presetSel)
    .then((presets) => {
      for (const p of presets) descriptions.set(p.name, p.description);
    })
    .finally(renderPreset)
    .catch((e) => showMessage(`Presets could not be loaded: ${messageOf(e)}`));
  const loadTracks = (): Promise<void> =>
    library
      .reload()
      .then(() => library.setCurrent(currentId, !!player.error))
      .catch((e) => showMessage(`The library could not be loaded: ${messageOf(e)}`));
  exposed.reloadTracks = loadTracks;
  void library.start();

  renderButton();
  renderTrack();
  renderTime();
}

async function loadPresets(bridge: Bridge, player: Player, select: HTMLSelectElement): Promise<Preset[]> {
  let presets: Preset[];
  try {
    presets = await bridge.presets();
  } catch (e) {
    presets = [{ name: 'bypass', description: 'No processing' }];
    select.replaceChildren(new Option('bypass', 'bypass'));
    player.knownPresets = ['bypass'];
    player.preset = 'bypass';
    throw e;
  }
  select.replaceChildren(
    ...presets.map((p) => {
      const o = new Option(p.name, p.name);
      o.title = p.description;
      return o;
    }),
  );
  player.knownPresets = presets.map((p) => p.name);
  const saved = stored(STORE_PRESET);
  const names = player.knownPresets;
  const choice = saved && names.includes(saved) ? saved : names.includes('adaptive') ? 'adaptive' : (names[0] ?? 'bypass');
  select.value = choice;
  if (!player.track) player.preset = choice;
  else player.setPreset(choice);
  return presets;
}

if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', start);
else start();
