//! The config lives at the repository root (`../tauri.conf.json`), capabilities in
//! `../capabilities/`. The app manifest lists every command the page may call, so each gets an
//! `allow-<name>` permission and nothing is reachable unless a capability grants it.
fn main() {
    let attributes = tauri_build::Attributes::new()
        .config_path("../tauri.conf.json")
        .capabilities_path_pattern("../capabilities/**/*")
        .app_manifest(tauri_build::AppManifest::new().commands(&[
            "report",
            "open_files",
            "add_folder",
            "native",
        ]));
    if let Err(e) = tauri_build::try_build(attributes) {
        // Print the whole chain: tauri-build's messages name the file and field at fault.
        eprintln!("tauri-build failed: {e:#}");
        std::process::exit(1);
    }
}
