//! `sonance scan DIR…`: add folders to the library and scan them, with a progress bar on a
//! terminal (a line per second otherwise); prints what the scan did as JSON.

use std::path::PathBuf;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use anyhow::Context;
use indicatif::{ProgressBar, ProgressStyle};
use sonance_library::{Library, ScanPhase};

#[derive(clap::Args)]
pub struct ScanArgs {
    /// Folders to add to the library before scanning (without any, the library's folders).
    folders: Vec<PathBuf>,
    /// The library database (default: `library.sqlite3` in the platform's data folder).
    #[arg(long)]
    library_db: Option<PathBuf>,
}

/// The library at `db`, or the platform's default one.
pub fn open_library(db: Option<&PathBuf>) -> anyhow::Result<Library> {
    let db = match db {
        Some(p) => p.clone(),
        None => Library::default_db_path()
            .context("this system has no data folder; pass --library-db")?,
    };
    Library::open(&db).with_context(|| format!("cannot open the music library {}", db.display()))
}

pub fn run(args: &ScanArgs) -> anyhow::Result<()> {
    let library = Arc::new(open_library(args.library_db.as_ref())?);
    for f in &args.folders {
        library
            .add_folder(f)
            .with_context(|| format!("cannot add the folder {}", f.display()))?;
    }
    let bar = ProgressBar::new(0);
    bar.set_style(
        ProgressStyle::with_template("{spinner} {msg} [{bar:30}] {pos}/{len} files")
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
    );
    let cancel = AtomicBool::new(false);
    let report = library.scan(&cancel, &|p| {
        match p.phase {
            ScanPhase::Walking => bar.set_message(format!("listing ({} found)", p.done)),
            _ => {
                bar.set_length(p.total);
                bar.set_position(p.done);
                bar.set_message(format!("{:.0} files/s", p.files_per_s));
            }
        }
        if bar.is_hidden() {
            // No terminal: a plain line now and then.
            log::info!(
                "{} of {} files, {:.0} files/s",
                p.done,
                p.total,
                p.files_per_s
            );
        }
    })?;
    bar.finish_and_clear();
    for (path, why) in &report.errors {
        eprintln!("warning: {}: {why}", path.display());
    }
    let json = serde_json::json!({
        "added": report.added,
        "updated": report.updated,
        "unchanged": report.unchanged,
        "missing": report.missing,
        "unreadable": report.errors.len(),
        "seconds": report.elapsed.as_secs_f64(),
    });
    println!("{json}");
    Ok(())
}
