//! `ensure!`: the fallible form of `assert!`, so one check serves both live state (asserted,
//! a broken invariant is a bug) and state read from disk (a snapshot: refused with an error,
//! never a panic).

/// Returns `Err(String)` from the enclosing function, with the formatted message, unless the
/// condition holds.
macro_rules! ensure {
    ($condition:expr, $($why:tt)+) => {
        if !$condition {
            return Err(format!($($why)+));
        }
    };
}
