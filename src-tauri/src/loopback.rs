//! The app's own loopback server for the stream API: the transport the page uses on Linux.
//!
//! Why not only the `sonance:` scheme ([`crate::scheme`]): a custom scheme answers with whole
//! bodies, so the page waits for all of a 30 s chunk before the first sound, a seek or a
//! preset switch (≈ 0.7 s on a cold track here), where `sonance serve` streams a chunk's
//! first second in ≈ 0.1 s. This server runs the same [`StreamApi::handle_progressive`] and
//! the same hyper front as `sonance serve` ([`Server`], with its limits against hostile local
//! clients), so chunks stream here too.
//!
//! Who may ask: it binds 127.0.0.1 on a free port; [`Access::AppLoopback`] answers only
//! requests whose path starts with a random token (other programs and users of this computer
//! can reach the port, not the token, which only the page gets), whose `Host` is loopback,
//! and whose `Origin`, when sent, is the app's page; only API routes are served (the stream
//! API and the player core's routes, `/api/player`, `/api/queue`, `/api/events`).

use std::sync::Arc;

use anyhow::Context;
use sonance_stream::server::Server;
use sonance_stream::{Access, Catalog, PlayerHost, StreamApi};

/// How the page reaches the stream API.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Transport {
    /// This module's server: chunks stream as they are made.
    Loopback,
    /// The `sonance:` URI scheme: whole chunk bodies.
    Scheme,
}

impl Transport {
    /// The default: the loopback server where it is measured and tested (Linux, WebKitGTK);
    /// elsewhere the scheme until the server is tested in WebView2 and WKWebView.
    pub fn platform_default() -> Self {
        if cfg!(target_os = "linux") {
            Transport::Loopback
        } else {
            Transport::Scheme
        }
    }
}

/// A running server; stops when dropped.
pub struct Loopback {
    server: Server,
    base: String,
}

impl Loopback {
    /// Start serving the `catalog` and the player core `player` (its routes and event stream,
    /// as `sonance serve` does) to the page whose origin is `page_origin`.
    pub fn start(
        catalog: Arc<Catalog>,
        player: Arc<PlayerHost>,
        page_origin: &str,
    ) -> anyhow::Result<Self> {
        let token = token()?;
        let api = StreamApi::new(
            catalog,
            Access::AppLoopback {
                origin: page_origin.to_string(),
                token: token.clone(),
            },
        )
        .with_player(player);
        let server = Server::start("127.0.0.1", 0, Arc::new(api))
            .context("cannot start the stream server on 127.0.0.1")?;
        // The port is logged, never the token.
        log::info!("stream server on http://{}/", server.addr());
        let base = format!("http://{}/{token}/", server.addr());
        Ok(Loopback { server, base })
    }

    /// The API's base URL for the page (with the token; ends with '/').
    pub fn base(&self) -> &str {
        &self.base
    }
}

impl Drop for Loopback {
    fn drop(&mut self) {
        self.server.stop();
    }
}

fn token() -> anyhow::Result<String> {
    Ok(sonance_stream::api::new_token()?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_long_hex_and_differ() {
        let (a, b) = (token().unwrap(), token().unwrap());
        assert_eq!(a.len(), 32);
        assert!(a.bytes().all(|c| c.is_ascii_hexdigit()));
        assert_ne!(a, b);
    }
}
