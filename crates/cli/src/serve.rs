//! `sonance serve`: the same player as the desktop app, in a browser, over loopback HTTP.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context;
use sonance_cache::{CacheConfig, DiskConfig};
use sonance_engine::{Engine, EngineConfig};
use sonance_player::{ActorConfig, PlayerHandle};
use sonance_stream::server::Server;
use sonance_stream::{Access, Catalog, PlayerHost, StreamApi};

#[derive(clap::Args)]
pub struct ServeArgs {
    /// Files or folders to add to the library (folders are scanned in the background and
    /// watched); without any, the library as it is.
    paths: Vec<PathBuf>,
    /// The library database (default: `library.sqlite3` in the platform's data folder).
    #[arg(long)]
    library_db: Option<PathBuf>,
    /// Address to bind. On anything but loopback the access token is required.
    #[arg(long, default_value = "127.0.0.1")]
    host: String,
    /// Serve without the access token in the address (scripts on a trusted machine; loopback
    /// only). Without it, only someone who has the printed address can listen.
    #[arg(long)]
    no_token: bool,
    /// Port; 0 picks a free one.
    #[arg(long, default_value_t = 8411)]
    port: u16,
    /// Chunk length in seconds.
    #[arg(long, default_value_t = 30.0)]
    chunk_seconds: f64,
    /// Folder for the fragment cache (default: the platform's cache folder).
    #[arg(long)]
    cache_dir: Option<PathBuf>,
    /// Disk budget of the fragment cache in MB.
    #[arg(long, default_value_t = 2048)]
    cache_max_mb: u64,
    /// Memory budget of the fragment cache in MB (recent fragments kept in memory; 0: none).
    #[arg(long, default_value_t = 256)]
    cache_memory_mb: usize,
    /// The built web UI (default: ui/dist next to the working folder or the executable).
    #[arg(long)]
    ui: Option<PathBuf>,
}

pub fn run(args: &ServeArgs) -> anyhow::Result<()> {
    let cache_dir = match &args.cache_dir {
        Some(d) => d.clone(),
        None => dirs::cache_dir()
            .context("this system has no cache folder; pass --cache-dir")?
            .join("sonance")
            .join("fragments"),
    };
    let engine = Arc::new(Engine::new(EngineConfig {
        chunk_seconds: args.chunk_seconds,
        cache: CacheConfig {
            memory_bytes: args.cache_memory_mb.saturating_mul(1 << 20),
            disk: Some(DiskConfig {
                dir: cache_dir,
                max_bytes: args.cache_max_mb << 20,
            }),
        },
        ..EngineConfig::default()
    })?);
    for p in &args.paths {
        if !p.exists() {
            anyhow::bail!("{} does not exist", p.display());
        }
    }
    let library = Arc::new(crate::scan::open_library(args.library_db.as_ref())?);
    let db = library.db_path().to_path_buf();
    let catalog = Arc::new(Catalog::new(engine, library));
    // Files are read now; folders join the library and are scanned while the server runs.
    let (folders, files): (Vec<PathBuf>, Vec<PathBuf>) =
        args.paths.iter().cloned().partition(|p| p.is_dir());
    if !files.is_empty() && catalog.add(&files).is_empty() {
        log::warn!("none of {files:?} could be added");
    }
    for f in &folders {
        catalog
            .library()
            .add_folder(f)
            .with_context(|| format!("cannot add the folder {}", f.display()))?;
    }
    catalog
        .start_background()
        .context("cannot start the library's scanner")?;
    // The player core: its queue and settings are kept beside the library.
    let state_path = db.with_file_name("player.json");
    let (player, damaged) = sonance_player::restore_or_fresh(&state_path, seed());
    if let Some(e) = damaged {
        log::warn!("{e}; starting with an empty queue");
    }
    let handle = PlayerHandle::spawn(
        player,
        ActorConfig {
            state_path: Some(state_path),
            ..ActorConfig::default()
        },
    )
    .context("cannot start the player")?;
    let host = Arc::new(PlayerHost::new(handle, Arc::clone(catalog.library())));
    let loopback = args
        .host
        .parse::<std::net::IpAddr>()
        .map(|ip| ip.is_loopback())
        .unwrap_or(args.host == "localhost");
    let (access, token) = if args.no_token {
        if !loopback {
            anyhow::bail!(
                "--no-token serves loopback only: on {} anyone on the network could listen",
                args.host
            );
        }
        (Access::Loopback, None)
    } else {
        let token = sonance_stream::api::new_token().context("cannot make an access token")?;
        let access = Access::Token {
            token: token.clone(),
            any_host: !loopback,
        };
        (access, Some(token))
    };
    let mut api = StreamApi::new(catalog, access).with_player(host);
    match find_ui(args.ui.as_deref()) {
        Some(dir) => {
            let files = sonance_stream::load_ui(&dir)
                .with_context(|| format!("cannot read the UI in {}", dir.display()))?;
            api = api.with_ui(files);
        }
        None => {
            log::warn!("the web UI is not built (npm --prefix ui run build); serving the API only")
        }
    }
    let server = Server::start(&args.host, args.port, Arc::new(api))
        .with_context(|| format!("cannot listen on {}:{}", args.host, args.port))?;
    let addr = server.addr();
    let mut out = std::io::stdout().lock();
    // The address is printed once, with its token; logs never show the token.
    match &token {
        Some(t) => writeln!(out, "listening on http://{addr}/{t}/")?,
        None => writeln!(out, "listening on http://{addr}/")?,
    }
    out.flush()?;
    drop(out);
    server.join();
    Ok(())
}

fn find_ui(explicit: Option<&Path>) -> Option<PathBuf> {
    if let Some(d) = explicit {
        return Some(d.to_path_buf());
    }
    let exe_root = std::env::current_exe()
        .ok()
        .and_then(|e| e.parent()?.parent()?.parent().map(Path::to_path_buf));
    [
        Some(PathBuf::from("ui/dist")),
        exe_root.map(|r| r.join("ui/dist")),
    ]
    .into_iter()
    .flatten()
    .find(|d| d.join("index.html").is_file())
}

/// A seed for the shuffle: this moment.
fn seed() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(1)
}
