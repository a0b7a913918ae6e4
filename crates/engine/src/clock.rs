//! Time is injected (STYLE §8): the engine reads the one [`Clock`] of `stampede-clock`, whose
//! crate is the only place allowed to read the machine's clocks.

pub use stampede_clock::{Clock, ManualClock, SystemClock, stopwatch};
