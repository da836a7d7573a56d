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
 * - a chunk's body may arrive in pieces (`fetchProgress` … `fetchDone`) or in
 *   one go (`fetchDone` with the whole body): its first append sets the window
 *   (and resets / sends the init segment when needed), later appends of the
 *   same chunk use the same window with no reset and no init, and nothing else
 *   is appended in between; pieces that arrive while the SourceBuffer is busy
 *   go into one append; a chunk counts as done (pending, "processed") until
 *   its last piece is appended;
 * - the init segment goes in front of a chunk's first append when the key
 *   changed since the last init or after a reset, never in front of a later piece.
 *
 * The generic `D` is the opaque payload of one piece (bytes in the player,
 * anything in tests). The policy hands pieces to append actions and forgets them.
 *
 * Modules:
 * - grid.ts    time ↔ chunk arithmetic, the packet grid, buffered-range questions (pure)
 * - config.ts  the knobs and their defaults, retry back-off
 * - types.ts   snapshot, requests, actions, state (the vocabulary)
 * - jobs.ts    Job: one chunk from its fetch until its last piece is appended
 * - timeline.ts gapless: tracks one after another on one MediaSource timeline (pure)
 * - machine.ts BufferPolicy: the state machine itself (events → actions)
 */
export * from './grid';
export * from './config';
export * from './types';
export * from './timeline';
export { BufferPolicy } from './machine';
export type { Placement } from './jobs';
