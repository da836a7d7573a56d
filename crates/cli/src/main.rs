//! `sonance`: the engine from a terminal. Each subcommand is a thin translator over
//! `sonance_engine::Engine` or the library; output meant for other tools is JSON on stdout.

mod bench;
mod render;
mod scan;
mod serve;

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use sonance_engine::{Enhancement, Preset};

#[derive(Parser)]
#[command(
    name = "sonance",
    version,
    about = "Sonance: every track, enhanced, the moment you press play"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

/// Preset and intensity, shared by the commands that render.
#[derive(clap::Args, Clone)]
pub struct EnhanceArgs {
    /// Enhancement preset (see `sonance presets`).
    #[arg(long, default_value = "adaptive")]
    preset: String,
    /// How strongly the preset works, 0 (not at all) to 1.
    #[arg(long, default_value_t = 1.0, allow_negative_numbers = true)]
    intensity: f32,
    /// With `--preset original-matched`: the preset whose loudness the original is matched to.
    #[arg(long = "match", value_name = "PRESET", default_value = "adaptive")]
    matched_to: String,
}

impl EnhanceArgs {
    fn enhancement(&self) -> anyhow::Result<Enhancement> {
        let preset: Preset = self.preset.parse()?;
        let reference: Preset = self.matched_to.parse()?;
        Ok(Enhancement::new(preset, self.intensity)?.matched_to(reference)?)
    }
}

#[derive(Subcommand)]
enum Command {
    /// Render a file to an init segment, WebM/Opus chunks and a manifest.
    Render(render::RenderArgs),
    /// Print loudness and format facts of a file as JSON.
    Analyze {
        /// The audio file.
        input: PathBuf,
    },
    /// Measure the pipeline on a file and print JSON.
    Bench(bench::BenchArgs),
    /// Serve files or folders to a browser: the player UI and the stream API on loopback.
    Serve(serve::ServeArgs),
    /// Add folders to the music library and scan them (prints what changed as JSON).
    Scan(scan::ScanArgs),
    /// List the presets.
    Presets {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
}

fn main() -> ExitCode {
    // Symphonia's own log lines describe its internals ("probe reached EOF"); the engine
    // turns what matters into its own messages, so they stay quiet unless RUST_LOG asks.
    env_logger::Builder::from_env(
        env_logger::Env::default().default_filter_or("warn,symphonia=off"),
    )
    .format(|buf, record| {
        let level = match record.level() {
            log::Level::Warn => "warning".to_string(),
            l => l.as_str().to_lowercase(),
        };
        writeln!(buf, "{level}: {}", record.args())
    })
    .init();
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Render(args) => render::run(&args),
        Command::Analyze { input } => render::analyze(&input),
        Command::Bench(args) => bench::run(&args),
        Command::Serve(args) => serve::run(&args),
        Command::Scan(args) => scan::run(&args),
        Command::Presets { json } => presets(json),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn presets(json: bool) -> anyhow::Result<()> {
    if json {
        let list: Vec<_> = Preset::ALL
            .iter()
            .map(|p| serde_json::json!({"name": p.name(), "description": p.description()}))
            .collect();
        println!("{}", serde_json::to_string_pretty(&list)?);
    } else {
        for p in Preset::ALL {
            println!("{:<17} {}", p.name(), p.description());
        }
    }
    Ok(())
}
