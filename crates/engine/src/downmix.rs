//! Channel layouts to stereo.
//!
//! The matrix (ITU-R BS.775 style, then normalised so that no full-scale input can clip):
//!
//! | source channel            | left  | right |
//! |---------------------------|-------|-------|
//! | mono (one channel)        | 1     | 1     |
//! | front left / right        | 1 / 0 | 0 / 1 |
//! | centre, rear centre       | 0.707 | 0.707 |
//! | side, rear, wide, centre-left/right (each side) | 0.707 on its side | |
//! | LFE                       | dropped | dropped |
//! | unpositioned (discrete) channel *i* | even *i*: left | odd *i*: right |
//!
//! Each output row is divided by the sum of its coefficients when that sum exceeds 1, so
//! a 5.1 mix plays at the level a listener expects without clipping.

use symphonia::core::audio::{Channels, Position};

const M3DB: f32 = std::f32::consts::FRAC_1_SQRT_2;

/// A fixed `2 × n` matrix that turns `n` interleaved channels into stereo.
#[derive(Debug, Clone)]
pub struct Downmix {
    inputs: usize,
    left: Vec<f32>,
    right: Vec<f32>,
}

impl Downmix {
    /// The matrix for a symphonia channel description.
    pub fn for_channels(channels: &Channels) -> Self {
        match channels {
            Channels::Positioned(pos) => Self::positioned(*pos),
            other => Self::discrete(other.count()),
        }
    }

    /// Channels with no known position: alternate left and right.
    pub fn discrete(n: usize) -> Self {
        if n == 1 {
            return Self::mono();
        }
        let left = (0..n).map(|i| if i % 2 == 0 { 1.0 } else { 0.0 }).collect();
        let right = (0..n).map(|i| if i % 2 == 1 { 1.0 } else { 0.0 }).collect();
        Self::normalised(n, left, right)
    }

    fn mono() -> Self {
        Downmix {
            inputs: 1,
            left: vec![1.0],
            right: vec![1.0],
        }
    }

    fn positioned(pos: Position) -> Self {
        let n = pos.bits().count_ones() as usize;
        if n == 1 {
            return Self::mono();
        }
        let mut left = Vec::with_capacity(n);
        let mut right = Vec::with_capacity(n);
        // Symphonia orders interleaved channels by ascending position bit.
        for bit in 0..64 {
            let Some(p) = Position::from_bits(1u64 << bit) else {
                continue;
            };
            if !pos.contains(p) {
                continue;
            }
            let (l, r) = if p == Position::FRONT_LEFT {
                (1.0, 0.0)
            } else if p == Position::FRONT_RIGHT {
                (0.0, 1.0)
            } else if p == Position::LFE1 || p == Position::LFE2 {
                (0.0, 0.0)
            } else if p == Position::FRONT_CENTER
                || p == Position::REAR_CENTER
                || p == Position::TOP_CENTER
                || p == Position::TOP_FRONT_CENTER
                || p == Position::TOP_REAR_CENTER
            {
                (M3DB, M3DB)
            } else if is_left(p) {
                (M3DB, 0.0)
            } else {
                (0.0, M3DB)
            };
            left.push(l);
            right.push(r);
        }
        Self::normalised(n, left, right)
    }

    fn normalised(n: usize, mut left: Vec<f32>, mut right: Vec<f32>) -> Self {
        for row in [&mut left, &mut right] {
            let sum: f32 = row.iter().sum();
            if sum > 1.0 {
                row.iter_mut().for_each(|c| *c /= sum);
            }
        }
        Downmix {
            inputs: n,
            left,
            right,
        }
    }

    /// Number of input channels this matrix expects.
    pub fn inputs(&self) -> usize {
        self.inputs
    }

    /// Append the stereo mix of `input` (interleaved, `inputs()` channels) to `out`.
    pub fn apply(&self, input: &[f32], out: &mut Vec<f32>) {
        let n = self.inputs;
        if n == 2 {
            out.extend_from_slice(input);
            return;
        }
        out.reserve(input.len() / n * 2);
        for frame in input.chunks_exact(n) {
            let mut l = 0.0;
            let mut r = 0.0;
            for ((s, cl), cr) in frame.iter().zip(&self.left).zip(&self.right) {
                l += s * cl;
                r += s * cr;
            }
            out.push(l);
            out.push(r);
        }
    }
}

fn is_left(p: Position) -> bool {
    [
        Position::REAR_LEFT,
        Position::FRONT_LEFT_CENTER,
        Position::SIDE_LEFT,
        Position::TOP_FRONT_LEFT,
        Position::TOP_REAR_LEFT,
        Position::FRONT_LEFT_WIDE,
        Position::TOP_SIDE_LEFT,
        Position::BOTTOM_FRONT_LEFT,
    ]
    .contains(&p)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mono_goes_to_both_sides_at_full_level() {
        let d = Downmix::for_channels(&Channels::Positioned(Position::FRONT_CENTER));
        let mut out = Vec::new();
        d.apply(&[0.5, -0.25], &mut out);
        assert_eq!(out, vec![0.5, 0.5, -0.25, -0.25]);
    }

    #[test]
    fn five_one_never_clips_and_keeps_sides_apart() {
        let pos = Position::FRONT_LEFT
            | Position::FRONT_RIGHT
            | Position::FRONT_CENTER
            | Position::LFE1
            | Position::REAR_LEFT
            | Position::REAR_RIGHT;
        let d = Downmix::for_channels(&Channels::Positioned(pos));
        let mut out = Vec::new();
        // All channels at full scale: the mix stays within ±1.
        d.apply(&[1.0; 6], &mut out);
        assert!(out.iter().all(|s| s.abs() <= 1.0 + 1e-6), "{out:?}");
        // Only front-left: nothing on the right.
        out.clear();
        d.apply(&[1.0, 0.0, 0.0, 0.0, 0.0, 0.0], &mut out);
        assert!(out[0] > 0.3 && out[1] == 0.0, "{out:?}");
        // LFE alone is dropped.
        out.clear();
        d.apply(&[0.0, 0.0, 0.0, 1.0, 0.0, 0.0], &mut out);
        assert_eq!(out, vec![0.0, 0.0]);
    }

    #[test]
    fn stereo_is_untouched() {
        let d = Downmix::discrete(2);
        let mut out = Vec::new();
        d.apply(&[0.1, 0.2, 0.3, 0.4], &mut out);
        assert_eq!(out, vec![0.1, 0.2, 0.3, 0.4]);
    }
}
