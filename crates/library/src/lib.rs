//! The music library (work in progress).
