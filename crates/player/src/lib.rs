//! The player core (work in progress).
