//! The TypeScript types in `ui/src/generated/player/` are generated from the Rust ones; this
//! fails when they drift. Regenerate with:
//!
//!     SONANCE_UPDATE_GENERATED=1 cargo test -p sonance-player --test generated

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use sonance_player::{Command, Event, PlayerState};
use ts_rs::{Config, TS};

const REGENERATE: &str = "SONANCE_UPDATE_GENERATED=1 cargo test -p sonance-player --test generated";

fn committed_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../ui/src/generated/player")
}

fn export_into(dir: &Path) {
    let cfg = Config::new().with_out_dir(dir);
    Command::export_all(&cfg).expect("export Command");
    Event::export_all(&cfg).expect("export Event");
    PlayerState::export_all(&cfg).expect("export PlayerState");
}

fn read_dir(dir: &Path) -> BTreeMap<String, String> {
    let Ok(entries) = fs::read_dir(dir) else {
        return BTreeMap::new();
    };
    entries
        .map(|e| e.expect("dir entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "ts"))
        .map(|p| {
            let name = p.file_name().expect("name").to_string_lossy().into_owned();
            // Compare without line-ending noise (a checkout with autocrlf).
            let text = fs::read_to_string(&p).expect("read").replace("\r\n", "\n");
            (name, text)
        })
        .collect()
}

#[test]
fn generated_types_are_current() {
    let committed = committed_dir();
    if std::env::var_os("SONANCE_UPDATE_GENERATED").is_some() {
        for name in read_dir(&committed).keys() {
            fs::remove_file(committed.join(name)).expect("remove stale file");
        }
        fs::create_dir_all(&committed).expect("create ui/src/generated/player");
        export_into(&committed);
        return;
    }
    let tmp = tempfile::tempdir().expect("temp dir");
    export_into(tmp.path());
    let fresh = read_dir(tmp.path());
    let old = read_dir(&committed);
    assert!(!fresh.is_empty(), "ts-rs exported nothing");
    let mut drift = Vec::new();
    for (name, text) in &fresh {
        match old.get(name) {
            None => drift.push(format!("{name} is missing")),
            Some(t) if t != text => drift.push(format!("{name} differs")),
            Some(_) => {}
        }
    }
    for name in old.keys().filter(|n| !fresh.contains_key(*n)) {
        drift.push(format!("{name} is no longer generated"));
    }
    assert!(
        drift.is_empty(),
        "ui/src/generated/player is out of date with the Rust types ({}). Regenerate with:\n    {REGENERATE}",
        drift.join(", ")
    );
}
