//! The [`Player`] on its own named thread: commands come in through a bounded channel, events
//! go out to every subscriber, a snapshot of the state is kept for whoever asks, and the state
//! is saved after changes. The pure core stays in `player.rs`; this is the only place with a
//! thread, a clock and I/O.

use std::io;
use std::path::PathBuf;
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, SyncSender, TrySendError};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use crate::command::Command;
use crate::event::Event;
use crate::persist::save_state;
use crate::player::Player;
use crate::queue::TrackId;
use crate::state::PlayerState;

/// How the actor runs.
#[derive(Debug, Clone)]
pub struct ActorConfig {
    /// Commands waiting to be handled before `send` blocks (and `try_send` fails).
    pub command_capacity: usize,
    /// Events waiting for one subscriber before that subscriber is dropped as lagging.
    pub subscriber_capacity: usize,
    /// Where to save the state after changes; `None`: never save.
    pub state_path: Option<PathBuf>,
    /// Changes to the position, a seek or a sound setting are saved at most this often;
    /// changes to the queue, the current track or the status are saved at once.
    pub position_save_interval: Duration,
}

impl Default for ActorConfig {
    fn default() -> Self {
        ActorConfig {
            command_capacity: 64,
            subscriber_capacity: 256,
            state_path: None,
            position_save_interval: Duration::from_secs(2),
        }
    }
}

/// The player thread stopped; the command was not delivered.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("the player has stopped")]
pub struct PlayerStopped;

enum Msg {
    Cmd(Command),
    Shutdown,
}

impl Msg {
    /// The command inside (a shutdown request becomes a Stop: only `try_send` calls this,
    /// and it only sends commands).
    fn into_command(self) -> Command {
        match self {
            Msg::Cmd(c) => c,
            Msg::Shutdown => Command::Stop,
        }
    }
}

struct Shared {
    state: Mutex<PlayerState>,
    upcoming: Mutex<Option<TrackId>>,
    subscribers: Mutex<Vec<SyncSender<Event>>>,
    thread: Mutex<Option<JoinHandle<()>>>,
    subscriber_capacity: usize,
}

/// A handle on the player thread. Cheap to clone; every clone talks to the same player. The
/// thread ends when [`PlayerHandle::shutdown`] is called or every handle is dropped (a pending
/// save is written first).
#[derive(Clone)]
pub struct PlayerHandle {
    tx: SyncSender<Msg>,
    shared: Arc<Shared>,
}

/// Lock, and carry on with the data if another thread panicked while holding the lock (the
/// values inside are plain snapshots, always whole).
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl PlayerHandle {
    /// Start `player` on a thread named `sonance-player`.
    pub fn spawn(player: Player, config: ActorConfig) -> io::Result<PlayerHandle> {
        let (tx, rx) = mpsc::sync_channel(config.command_capacity.max(1));
        let shared = Arc::new(Shared {
            state: Mutex::new(player.snapshot()),
            upcoming: Mutex::new(player.upcoming()),
            subscribers: Mutex::new(Vec::new()),
            thread: Mutex::new(None),
            subscriber_capacity: config.subscriber_capacity.max(1),
        });
        let worker = Worker {
            player,
            shared: Arc::clone(&shared),
            config,
            last_save: None,
            save_due: None,
        };
        let join = thread::Builder::new()
            .name("sonance-player".to_owned())
            .spawn(move || worker.run(rx))?;
        *lock(&shared.thread) = Some(join);
        Ok(PlayerHandle { tx, shared })
    }

    /// A new stream of events, from the next command on. A subscriber that falls
    /// `subscriber_capacity` events behind is dropped (its receiver disconnects after the
    /// events already queued): it should subscribe again and redraw from [`Self::state`].
    pub fn subscribe(&self) -> Receiver<Event> {
        let (tx, rx) = mpsc::sync_channel(self.shared.subscriber_capacity);
        lock(&self.shared.subscribers).push(tx);
        rx
    }

    /// Send a command; waits while the command channel is full.
    pub fn send(&self, cmd: Command) -> Result<(), PlayerStopped> {
        self.tx.send(Msg::Cmd(cmd)).map_err(|_| PlayerStopped)
    }

    /// Send a command unless the channel is full; gives it back when it is not sent.
    pub fn try_send(&self, cmd: Command) -> Result<(), TrySendError<Command>> {
        match self.tx.try_send(Msg::Cmd(cmd)) {
            Ok(()) => Ok(()),
            Err(TrySendError::Full(msg)) => Err(TrySendError::Full(msg.into_command())),
            Err(TrySendError::Disconnected(msg)) => {
                Err(TrySendError::Disconnected(msg.into_command()))
            }
        }
    }

    /// The state after the last handled command (a copy).
    pub fn state(&self) -> PlayerState {
        lock(&self.shared.state).clone()
    }

    /// The gapless hint after the last handled command: see [`Player::upcoming`].
    pub fn upcoming(&self) -> Option<TrackId> {
        lock(&self.shared.upcoming).clone()
    }

    /// Handle the commands already sent, save, and stop the thread. Later sends fail.
    pub fn shutdown(&self) {
        let _ = self.tx.send(Msg::Shutdown);
        let join = lock(&self.shared.thread).take();
        if let Some(join) = join {
            if join.join().is_err() {
                log::error!("player: the player thread panicked");
            }
        }
    }
}

struct Worker {
    player: Player,
    shared: Arc<Shared>,
    config: ActorConfig,
    last_save: Option<Instant>,
    /// When a position-only change is waiting to be saved, the time to save it.
    save_due: Option<Instant>,
}

impl Worker {
    fn run(mut self, rx: Receiver<Msg>) {
        loop {
            let msg = match self.save_due {
                Some(due) => {
                    let wait = due.saturating_duration_since(Instant::now());
                    match rx.recv_timeout(wait) {
                        Ok(m) => m,
                        Err(RecvTimeoutError::Timeout) => {
                            self.save();
                            continue;
                        }
                        Err(RecvTimeoutError::Disconnected) => break,
                    }
                }
                None => match rx.recv() {
                    Ok(m) => m,
                    Err(_) => break,
                },
            };
            match msg {
                Msg::Cmd(cmd) => self.handle(cmd),
                Msg::Shutdown => break,
            }
        }
        if self.save_due.is_some() {
            self.save();
        }
    }

    fn handle(&mut self, cmd: Command) {
        let position_report = matches!(cmd, Command::Position { .. });
        let position_before = self.player.position_s();
        let events = self.player.handle(cmd);
        if events.is_empty() {
            if position_report && self.player.position_s() != position_before {
                // The common case, four times a second: touch one field, save later.
                lock(&self.shared.state).position_s = self.player.position_s();
                self.schedule_save();
            }
            return;
        }
        let changed = events.iter().any(|e| !matches!(e, Event::Error { .. }));
        if changed {
            *lock(&self.shared.state) = self.player.snapshot();
            *lock(&self.shared.upcoming) = self.player.upcoming();
            // What to play is saved at once; a seek or a setting (a volume slider sends many)
            // waits like a position report.
            let structural = events.iter().any(|e| {
                matches!(
                    e,
                    Event::QueueChanged(_)
                        | Event::TrackChanged { .. }
                        | Event::StatusChanged { .. }
                )
            });
            if structural {
                self.save();
            } else {
                self.schedule_save();
            }
        }
        self.broadcast(&events);
    }

    fn schedule_save(&mut self) {
        if self.config.state_path.is_none() || self.save_due.is_some() {
            return;
        }
        let now = Instant::now();
        self.save_due = Some(match self.last_save {
            Some(t) => (t + self.config.position_save_interval).max(now),
            None => now,
        });
    }

    fn save(&mut self) {
        self.save_due = None;
        let Some(path) = &self.config.state_path else {
            return;
        };
        self.last_save = Some(Instant::now());
        if let Err(e) = save_state(path, &self.player.snapshot()) {
            log::warn!("player: {e}");
        }
    }

    fn broadcast(&self, events: &[Event]) {
        lock(&self.shared.subscribers).retain(|sub| {
            for e in events {
                match sub.try_send(e.clone()) {
                    Ok(()) => {}
                    Err(TrySendError::Full(_)) => {
                        log::warn!("player: an event subscriber fell behind and was dropped");
                        return false;
                    }
                    Err(TrySendError::Disconnected(_)) => return false,
                }
            }
            true
        });
    }
}
