/**
 * Buffer policy: a pure state machine (no DOM, no timers, no fetch).
 *
 * The player feeds it events (start, tick, seek, key change, fetch and
 * SourceBuffer results), each with a fresh {@link Snapshot} of the media
 * element, and executes the {@link Action}s it returns. Time in snapshots is
 * `now` in milliseconds (wall clock, only used for back-off) and media time in
 * seconds.
 *
 * Invariants the policy keeps:
 * - at most `maxPending` chunks are fetching, waiting for a retry, or queued
 *   for / being appended (for the current epoch);
 * - at most one SourceBuffer operation (append / remove / endOfStream) is
 *   issued at a time: the next one only after `sbDone` / `sbFailed`;
 * - responses from an older epoch (before a seek out of the buffer, a track
 *   start or a preset change) are never appended;
 * - buffered media is kept within `keepBehind` behind the playhead (plus
 *   hysteresis) and the total never exceeds `maxBuffered`.
 *
 * The generic `D` is the opaque payload of a fetched chunk (bytes in the
 * player, anything in tests). The policy hands it to one append action and
 * forgets it.
 *
 * Modules:
 * - grid.ts    time ↔ chunk arithmetic, the packet grid, buffered-range questions (pure)
 * - config.ts  the knobs and their defaults, retry back-off
 * - types.ts   snapshot, requests, actions, state (the vocabulary)
 * - machine.ts BufferPolicy: the state machine itself
 */
export * from './grid';
export * from './config';
export * from './types';
export { BufferPolicy } from './machine';
