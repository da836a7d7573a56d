//! The keyboard's media keys where no desktop daemon owns them (Linux on X11).
//!
//! On a full desktop (GNOME, KDE…) a daemon grabs XF86AudioPlay & co. and forwards them to
//! the MPRIS session ([`crate::media_session`]). On a bare X server nobody does, so the app
//! grabs them itself on the root window. X11 gives a passive key grab to one client only: when
//! a daemon holds it our grab fails with `BadAccess` and we stay out of the way, so a key never
//! acts twice. Windows (SMTC) and macOS (Now Playing) deliver media keys to the OS session, and
//! Wayland has no global grabs: no grab there.

use crate::media_session::MediaCommand;

/// Keeps the grabs alive; dropping it releases them.
pub struct MediaKeys {
    #[cfg(target_os = "linux")]
    _manager: Option<global_hotkey::GlobalHotKeyManager>,
}

impl MediaKeys {
    /// Grab what can be grabbed; `on_command` runs on the grabber's thread.
    pub fn start(on_command: impl Fn(MediaCommand) + Send + Sync + 'static) -> Self {
        #[cfg(target_os = "linux")]
        {
            MediaKeys {
                _manager: linux::grab(on_command),
            }
        }
        #[cfg(not(target_os = "linux"))]
        {
            let _ = on_command;
            MediaKeys {}
        }
    }
}

#[cfg(target_os = "linux")]
mod linux {
    use global_hotkey::hotkey::{Code, HotKey};
    use global_hotkey::{GlobalHotKeyEvent, GlobalHotKeyManager, HotKeyState};

    use super::MediaCommand;

    const KEYS: [(Code, MediaCommand); 5] = [
        (Code::MediaPlay, MediaCommand::Toggle), // XF86AudioPlay: the play/pause key
        (Code::MediaPause, MediaCommand::Pause),
        (Code::MediaStop, MediaCommand::Stop),
        (Code::MediaTrackNext, MediaCommand::Next),
        (Code::MediaTrackPrevious, MediaCommand::Previous),
    ];

    pub fn grab(
        on_command: impl Fn(MediaCommand) + Send + Sync + 'static,
    ) -> Option<GlobalHotKeyManager> {
        let wayland = std::env::var_os("WAYLAND_DISPLAY").is_some()
            && std::env::var("GDK_BACKEND").map_or(true, |b| !b.contains("x11"));
        if wayland || std::env::var_os("DISPLAY").is_none() {
            log::info!("media keys: no X11 display; left to the desktop's media session");
            return None;
        }
        let manager = match GlobalHotKeyManager::new() {
            Ok(m) => m,
            Err(e) => {
                log::warn!("media keys: cannot connect to the X server: {e}");
                return None;
            }
        };
        let mut ids = Vec::new();
        for (code, cmd) in KEYS {
            let key = HotKey::new(None, code);
            match manager.register(key) {
                Ok(()) => ids.push((key.id(), cmd)),
                Err(e) => log::info!("media keys: {code:?} not grabbed ({e}); the desktop owns it"),
            }
        }
        if ids.is_empty() {
            return None;
        }
        log::info!("media keys: grabbed {} keys on the X server", ids.len());
        GlobalHotKeyEvent::set_event_handler(Some(move |e: GlobalHotKeyEvent| {
            if e.state() != HotKeyState::Pressed {
                return;
            }
            if let Some((_, cmd)) = ids.iter().find(|(id, _)| *id == e.id()) {
                log::debug!("media key: {cmd:?}");
                on_command(cmd.clone());
            }
        }));
        Some(manager)
    }
}
