//! Time each stage of one 30 s chunk on its own (one core): open, decode, resample, encode.
//! `cargo run --release -p sonance-engine --example stage_times -- FILE [COMPLEXITY]`
//! Times are this thread's CPU time, so other processes' load does not inflate them much.
/// CPU time of this thread in ms (Linux schedstat; unaffected by other processes' load).
fn cpu_ms() -> f64 {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse::<f64>().ok())
        .map_or(0.0, |ns| ns / 1e6)
}

struct Instant(f64);
impl Instant {
    fn now() -> Self {
        Instant(cpu_ms())
    }
    fn elapsed(&self) -> std::time::Duration {
        std::time::Duration::from_secs_f64((cpu_ms() - self.0) / 1e3)
    }
}

use sonance_engine::decode::SourceReader;
use sonance_engine::encode::{EncoderSettings, Lead, Span};
use sonance_engine::resample::Resampler;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let path = std::env::args().nth(1).ok_or("usage: stage_times FILE")?;
    let path = std::path::Path::new(&path);
    let t = Instant::now();
    let (mut reader, info) = SourceReader::open(path)?;
    let open_ms = t.elapsed().as_secs_f64() * 1e3;

    let frames = (info.sample_rate as usize) * 30;
    let mut src = vec![0.0f32; frames * 2];
    let t = Instant::now();
    let got = reader.read(&mut src)?;
    let decode_ms = t.elapsed().as_secs_f64() * 1e3;

    let mut rs = Resampler::new(info.sample_rate)?;
    let bin = rs.block_in();
    let mut out = Vec::with_capacity(48_000 * 31 * 2);
    let t = Instant::now();
    for block in src[..got * 2].chunks_exact(bin * 2) {
        out.extend_from_slice(rs.process(block)?);
    }
    let resample_ms = t.elapsed().as_secs_f64() * 1e3;

    let span = Span {
        first: 0,
        end: 1500,
        lead: Lead::Written,
        joins_next: true,
    };
    let (a, b) = span.render_range();
    out.resize((b - a) as usize * 2, 0.0);
    let complexity: u8 = std::env::args()
        .nth(2)
        .and_then(|c| c.parse().ok())
        .unwrap_or(10);
    let settings = EncoderSettings {
        complexity,
        ..EncoderSettings::default()
    };
    let t = Instant::now();
    let packets = span.encode(&settings, &out)?;
    let encode_ms = t.elapsed().as_secs_f64() * 1e3;
    println!(
        "open {open_ms:.1} ms, decode 30 s {decode_ms:.1} ms, resample {resample_ms:.1} ms, encode {encode_ms:.1} ms ({} packets)",
        packets.len()
    );
    Ok(())
}
