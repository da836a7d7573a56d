/**
 * Gapless: make the browser start a fresh Opus decoder exactly where a chained track starts.
 *
 * Every track's first packets are encoded by a fresh encoder with no pre-roll (the track
 * start), which assumes a decoder in its reset state. On one MediaSource timeline Chromium
 * keeps decoding with the previous track's decoder state: measured, a burst of +8…+11 dB
 * over the signal for ~20 ms that decays over ~100 ms. Chromium re-creates the decoder at
 * a configuration change (a new initialization segment whose codec private data differs);
 * so consecutive tracks get init segments whose OpusHead differs in `input_sample_rate`,
 * a field that is informational only (RFC 7845 §5.1: "not used by the decoder").
 */

const MAGIC = [0x4f, 0x70, 0x75, 0x73, 0x48, 0x65, 0x61, 0x64]; // "OpusHead"

/** Offset of "OpusHead" in `b`, or -1. */
export function findOpusHead(b: Uint8Array): number {
  outer: for (let i = 0; i + 19 <= b.length; i++) {
    for (let k = 0; k < MAGIC.length; k++) if (b[i + k] !== MAGIC[k]) continue outer;
    return i;
  }
  return -1;
}

/**
 * The init segment with OpusHead's input sample rate changed by `variant` (0: unchanged, the
 * same buffer). A copy otherwise; an init segment without OpusHead is returned as is.
 */
export function retagOpusHead(init: ArrayBuffer, variant: number): ArrayBuffer {
  if (!variant) return init;
  const bytes = new Uint8Array(init);
  const at = findOpusHead(bytes);
  if (at < 0) return init;
  const out = bytes.slice();
  const view = new DataView(out.buffer);
  const rate = view.getUint32(at + 12, true);
  view.setUint32(at + 12, (rate + variant) >>> 0, true);
  return out.buffer;
}
