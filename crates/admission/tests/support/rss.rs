//! Process resident set size, read from `/proc/self/statm` (Linux).

/// Page size assumed for `statm` (4 KiB on x86-64 and most aarch64 Linux builds); reading the
/// real one needs `sysconf`, i.e. `unsafe`, which this crate forbids.
const PAGE_BYTES: u64 = 4096;

/// Resident bytes of this process now.
///
/// # Panics
/// If `/proc/self/statm` cannot be read or parsed (not Linux).
pub(crate) fn resident_bytes() -> u64 {
    let statm = std::fs::read_to_string("/proc/self/statm").expect("read /proc/self/statm");
    let resident_pages: u64 = statm
        .split_whitespace()
        .nth(1)
        .and_then(|field| field.parse().ok())
        .expect("statm has a resident-pages field");
    resident_pages * PAGE_BYTES
}
