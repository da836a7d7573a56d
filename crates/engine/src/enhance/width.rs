//! Stereo width: scales the side signal (L − R) against the mid (L + R). Stateless, so it
//! needs no warm-up and mono input (no side) passes unchanged.

use super::dynamics::db_to_gain;
use super::Stage;

/// The width stage.
pub struct Width {
    side_gain: f32,
}

impl Width {
    /// Side signal changed by `side_db` (+ wider, − narrower).
    pub fn new(side_db: f64) -> Self {
        Width {
            side_gain: db_to_gain(side_db) as f32,
        }
    }
}

impl Stage for Width {
    fn process(&mut self, frames: &mut [f32]) {
        for f in frames.chunks_exact_mut(2) {
            let mid = 0.5 * (f[0] + f[1]);
            let side = 0.5 * (f[0] - f[1]) * self.side_gain;
            f[0] = mid + side;
            f[1] = mid - side;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mono_passes_and_side_scales() {
        let mut w = Width::new(6.0206);
        let mut x = vec![0.25f32, 0.25, 0.5, -0.5];
        w.process(&mut x);
        assert_eq!(&x[..2], &[0.25, 0.25]);
        assert!((x[2] - 1.0).abs() < 1e-4 && (x[3] + 1.0).abs() < 1e-4);
    }
}
