//! The player core's routes: every front end (the page in a browser or in the desktop app,
//! `curl`, media keys) drives the same [`PlayerHandle`] and follows its events.
//!
//! | route | answer |
//! |---|---|
//! | `GET /api/player` | the whole `PlayerState` |
//! | `POST /api/player` with one `Command` as JSON | 202; the effects arrive as events |
//! | `GET /api/events` | Server-Sent Events: `event: state` (a `PlayerState`) first, then one `Event` per message |
//! | `GET /api/queue` | `{tracks, index, shuffle, repeat}` |
//! | `PUT /api/queue` `{"tracks": [id…], "index": 0}` | 202: the queue is replaced (the status is kept) |
//! | `POST /api/player/{play,pause,toggle,stop,next,previous}` | 202 |
//! | `POST /api/player/seek` `{"position_s": 12.5}` | 202 |
//!
//! Track ids in commands must be library ids (16 hex digits); a queue never holds anything
//! else, so nothing from a request can name a file.

use std::ops::ControlFlow;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::RecvTimeoutError;
use std::sync::Arc;
use std::time::Duration;

use serde::Deserialize;
use sonance_library::TrackId as LibraryId;
use sonance_player::{Command, PlayerHandle, TrackId};

use crate::api::{Progress, Request, Response, StreamApi};
use crate::message::{self as reply, is_read, ResponseExt};

/// Event streams open at once (each holds a thread while it waits).
pub const MAX_EVENT_STREAMS: usize = 8;
/// A comment line keeps an idle event stream open, and finds out when its client left.
const HEARTBEAT: Duration = Duration::from_secs(15);

/// The player as the API hosts it.
pub struct PlayerHost {
    handle: PlayerHandle,
    streams: AtomicUsize,
}

impl PlayerHost {
    /// Host `handle`; each track it starts counts as a play in `library`.
    pub fn new(handle: PlayerHandle, library: Arc<sonance_library::Library>) -> Self {
        let events = handle.subscribe();
        let spawned = std::thread::Builder::new()
            .name("player-plays".into())
            .spawn(move || {
                while let Ok(ev) = events.recv() {
                    if let sonance_player::Event::TrackChanged { track: Some(t), .. } = ev {
                        if let Some(id) = LibraryId::parse(&t.0) {
                            if let Err(e) = library.record_play(&id) {
                                log::debug!("cannot count a play of {}: {e}", t.0);
                            }
                        }
                    }
                }
            });
        if let Err(e) = spawned {
            log::warn!("plays are not counted: {e}");
        }
        PlayerHost {
            handle,
            streams: AtomicUsize::new(0),
        }
    }

    pub fn handle(&self) -> &PlayerHandle {
        &self.handle
    }
}

/// Releases an event stream's place when it ends.
struct StreamPlace<'a>(&'a AtomicUsize);

impl Drop for StreamPlace<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

impl StreamApi {
    /// Answer a player route, or `None` when `segments` is not one.
    pub(crate) fn player_route(
        &self,
        req: &Request,
        segments: &[&str],
        progress: &mut Progress<'_>,
        streams: bool,
    ) -> Option<Response> {
        let is_player = matches!(segments, ["api", "player" | "queue" | "events", ..]);
        if !is_player {
            return None;
        }
        let Some(host) = self.player.as_deref() else {
            return Some(reply::error(
                404,
                "not_found",
                "this server has no player core",
            ));
        };
        let get = is_read(req);
        let resp = match (req.method().as_str(), segments) {
            (_, ["api", "player"]) if get => reply::json(200, &host.handle.state()),
            ("POST", ["api", "player"]) => match serde_json::from_slice::<Command>(req.body()) {
                Ok(cmd) => send(host, cmd),
                Err(e) => bad(format!("the body is not a player command: {e}")),
            },
            (_, ["api", "queue"]) if get => {
                let s = host.handle.state();
                reply::json(
                    200,
                    &serde_json::json!({
                        "tracks": s.tracks,
                        "index": s.index,
                        "shuffle": s.shuffle,
                        "repeat": s.repeat,
                    }),
                )
            }
            ("PUT", ["api", "queue"]) => {
                #[derive(Deserialize)]
                struct Body {
                    tracks: Vec<TrackId>,
                    #[serde(default)]
                    index: usize,
                }
                match serde_json::from_slice::<Body>(req.body()) {
                    Ok(b) => send(
                        host,
                        Command::SetQueue {
                            tracks: b.tracks,
                            index: b.index,
                        },
                    ),
                    Err(e) => bad(format!(
                        "the body must be {{\"tracks\": [id, …], \"index\": 0}}: {e}"
                    )),
                }
            }
            ("POST", ["api", "player", action]) => match *action {
                "play" => send(host, Command::Play),
                "pause" => send(host, Command::Pause),
                "toggle" => send(host, Command::TogglePlay),
                "stop" => send(host, Command::Stop),
                "next" => send(host, Command::Next),
                "previous" => send(host, Command::Previous),
                "seek" => {
                    #[derive(Deserialize)]
                    struct Body {
                        position_s: f64,
                    }
                    match serde_json::from_slice::<Body>(req.body()) {
                        Ok(b) => send(
                            host,
                            Command::Seek {
                                position_s: b.position_s,
                            },
                        ),
                        Err(_) => bad("the body must be {\"position_s\": seconds}"),
                    }
                }
                other => reply::error(
                    404,
                    "not_found",
                    format!("the player has no action '{other}'"),
                ),
            },
            // An endless answer: only where pieces go out as they come (not as a whole body,
            // which would never end and hold a worker for good).
            (_, ["api", "events"]) if get && !streams => reply::error(
                406,
                "not_acceptable",
                "the event stream needs a transport that streams (the loopback server)",
            ),
            (_, ["api", "events"]) if get => self.events(host, progress),
            _ => reply::error(
                405,
                "bad_parameter",
                format!("{} is not supported on this route", req.method()),
            ),
        };
        Some(resp)
    }

    /// The event stream: the state, then each event, until the client leaves.
    fn events(&self, host: &PlayerHost, progress: &mut Progress<'_>) -> Response {
        if host.streams.fetch_add(1, Ordering::SeqCst) >= MAX_EVENT_STREAMS {
            host.streams.fetch_sub(1, Ordering::SeqCst);
            return reply::error(
                503,
                "busy",
                format!("at most {MAX_EVENT_STREAMS} pages can follow the player at once"),
            );
        }
        let _place = StreamPlace(&host.streams);
        let mut head = reply::bytes(200, "text/event-stream", Arc::from([]));
        head.add_header("X-Accel-Buffering", "no");
        let head = self.finish(head);
        // Subscribe before reading the state, so no event falls between the two.
        let events = host.handle.subscribe();
        let state = serde_json::to_string(&host.handle.state()).unwrap_or_default();
        if progress(&head, format!("event: state\ndata: {state}\n\n").as_bytes()).is_break() {
            return head;
        }
        loop {
            let piece = match events.recv_timeout(HEARTBEAT) {
                Ok(ev) => format!(
                    "data: {}\n\n",
                    serde_json::to_string(&ev).unwrap_or_default()
                ),
                Err(RecvTimeoutError::Timeout) => ": still here\n\n".to_string(),
                // The player stopped, or dropped this subscriber as lagging: the page
                // reconnects and starts again from the state.
                Err(RecvTimeoutError::Disconnected) => break,
            };
            if let ControlFlow::Break(()) = progress(&head, piece.as_bytes()) {
                break;
            }
        }
        head
    }
}

fn send(host: &PlayerHost, cmd: Command) -> Response {
    if let Some(bad_id) = ids_of(&cmd)
        .iter()
        .find(|id| LibraryId::parse(&id.0).is_none())
    {
        return bad(format!("'{}' is not a track id", bad_id.0));
    }
    match host.handle.send(cmd) {
        Ok(()) => reply::json(202, &serde_json::json!({})),
        Err(e) => reply::error(503, "internal", e.to_string()),
    }
}

/// The track ids a command carries.
fn ids_of(cmd: &Command) -> &[TrackId] {
    match cmd {
        Command::PlayNow { tracks, .. }
        | Command::SetQueue { tracks, .. }
        | Command::PlayNext { tracks }
        | Command::Append { tracks } => tracks,
        Command::TrackFailed { track, .. } => std::slice::from_ref(track),
        Command::TrackEnded { track: Some(t) } => std::slice::from_ref(t),
        _ => &[],
    }
}

fn bad(message: impl Into<String>) -> Response {
    reply::error(400, "bad_parameter", message)
}
