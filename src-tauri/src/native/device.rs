//! The audio device behind the native output: a cpal output stream (48 kHz stereo f32 when the
//! device takes it), or — when there is no usable device (a machine with no sound card) — a
//! silent clock that consumes the audio in real time, so position, pause and seek behave the
//! same and the UI can say that nothing is heard.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

use cpal::traits::{DeviceTrait, HostTrait, StreamTrait};

use super::sink::{Shared, Sink, BLOCK_FRAMES, RATE};

/// What plays the sound.
#[derive(Debug, Clone)]
pub struct DeviceInfo {
    /// A name for people ("default (ALSA)", "no audio device: silent clock").
    pub name: String,
    /// Device frames per second.
    pub rate: u32,
    /// Whether sound is heard (false for the silent clock).
    pub audible: bool,
}

/// Keeps the device thread alive; dropping it stops the stream.
pub struct Device {
    pub info: DeviceInfo,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Drop for Device {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            t.thread().unpark();
            let _ = t.join();
        }
    }
}

/// Open the default output device (or the silent clock) and start pulling from `sink`.
/// `SONANCE_NATIVE_DEVICE=none` forces the silent clock (tests).
pub fn open(
    make_sink: impl FnOnce(u32) -> Sink + Send + 'static,
    shared: Arc<Shared>,
) -> std::io::Result<Device> {
    let stop = Arc::new(AtomicBool::new(false));
    let (info_tx, info_rx) = mpsc::channel::<DeviceInfo>();
    let thread_stop = Arc::clone(&stop);
    let force_silent = std::env::var("SONANCE_NATIVE_DEVICE").is_ok_and(|v| v == "none");
    let thread = std::thread::Builder::new()
        .name("native-output".into())
        .spawn(move || {
            // The cpal stream lives and dies on this thread (it is not Send everywhere).
            let mut make_sink = Some(make_sink);
            if !force_silent {
                match open_cpal(&mut make_sink, &shared) {
                    Ok((stream, info)) => {
                        let _ = info_tx.send(info);
                        while !thread_stop.load(Ordering::Relaxed) {
                            std::thread::park_timeout(Duration::from_millis(250));
                        }
                        drop(stream);
                        return;
                    }
                    Err(why) => log::warn!(
                        "native output: no usable audio device ({why}); using a silent clock"
                    ),
                }
            }
            let Some(make) = make_sink.take() else {
                log::error!("native output: the audio callback was lost with the device");
                return;
            };
            let _ = info_tx.send(DeviceInfo {
                name: "no audio device: silent clock".into(),
                rate: RATE,
                audible: false,
            });
            silent_clock(make(RATE), &shared, &thread_stop);
        })?;
    let info = info_rx
        .recv_timeout(Duration::from_secs(10))
        .map_err(|_| std::io::Error::other("the audio device did not open within 10 s"))?;
    log::info!("native output: {} at {} Hz", info.name, info.rate);
    Ok(Device {
        info,
        stop,
        thread: Some(thread),
    })
}

fn open_cpal<F: FnOnce(u32) -> Sink + Send + 'static>(
    make_sink: &mut Option<F>,
    shared: &Arc<Shared>,
) -> Result<(cpal::Stream, DeviceInfo), String> {
    let host = cpal::default_host();
    let device = host
        .default_output_device()
        .ok_or_else(|| "no default output device".to_string())?;
    let name = device
        .description()
        .map(|d| d.to_string())
        .unwrap_or_else(|_| "default".into());
    // Prefer 48 kHz stereo f32 (no conversion); else the device's default rate.
    let ranges: Vec<_> = device
        .supported_output_configs()
        .map_err(|e| e.to_string())?
        .collect();
    let exact = ranges.iter().find(|r| {
        r.channels() == 2
            && r.sample_format() == cpal::SampleFormat::F32
            && r.min_sample_rate() <= RATE
            && r.max_sample_rate() >= RATE
    });
    let config = match exact {
        Some(r) => r.with_sample_rate(RATE).config(),
        None => {
            let d = device.default_output_config().map_err(|e| e.to_string())?;
            if d.sample_format() != cpal::SampleFormat::F32 {
                return Err(format!(
                    "the device wants {:?} samples, not f32",
                    d.sample_format()
                ));
            }
            d.config()
        }
    };
    let channels = usize::from(config.channels);
    let rate = config.sample_rate;
    let make = make_sink
        .take()
        .ok_or("the audio callback was already used")?;
    let mut sink = make(rate);
    let cb_shared = Arc::clone(shared);
    let stream = device
        .build_output_stream::<f32, _, _>(
            config,
            move |data: &mut [f32], _| sink.fill(data, channels, &cb_shared),
            |e| log::warn!("native output: stream error: {e}"),
            None,
        )
        .map_err(|e| e.to_string())?;
    stream.play().map_err(|e| e.to_string())?;
    Ok((
        stream,
        DeviceInfo {
            name: format!("{name} ({:?})", host.id()),
            rate,
            audible: true,
        },
    ))
}

/// Pull 10 ms of audio every 10 ms of wall time and throw it away.
fn silent_clock(mut sink: Sink, shared: &Shared, stop: &AtomicBool) {
    let mut buf = vec![0.0f32; BLOCK_FRAMES * 2];
    let period = Duration::from_secs_f64(BLOCK_FRAMES as f64 / f64::from(RATE));
    let mut next = Instant::now();
    while !stop.load(Ordering::Relaxed) {
        sink.fill(&mut buf, 2, shared);
        next += period;
        let now = Instant::now();
        if next > now {
            std::thread::sleep(next - now);
        } else if now - next > Duration::from_millis(200) {
            next = now; // fell far behind (suspend): do not catch up in a burst
        }
    }
}
