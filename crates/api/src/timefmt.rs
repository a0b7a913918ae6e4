//! RFC 3339 at the edge; the core keeps integer Unix milliseconds.

use stampede_core::UnixMillis;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// Parses an RFC 3339 timestamp (any offset) into Unix milliseconds.
pub fn parse_rfc3339(field: &str, value: &str) -> Result<UnixMillis, String> {
    let at = OffsetDateTime::parse(value, &Rfc3339)
        .map_err(|e| format!("{field}: not an RFC 3339 timestamp ({e})"))?;
    let ms = at.unix_timestamp_nanos() / 1_000_000;
    u64::try_from(ms)
        .map(UnixMillis)
        .map_err(|_| format!("{field}: before 1970"))
}

/// Formats Unix milliseconds as RFC 3339 in UTC.
pub fn format_rfc3339(at: UnixMillis) -> String {
    let nanos = i128::from(at.0) * 1_000_000;
    OffsetDateTime::from_unix_timestamp_nanos(nanos)
        .ok()
        .and_then(|t| t.format(&Rfc3339).ok())
        .unwrap_or_else(|| at.0.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let at = parse_rfc3339("starts_at", "2026-11-11T20:00:00+08:00").unwrap();
        assert_eq!(at, UnixMillis(1_794_398_400_000));
        assert_eq!(format_rfc3339(at), "2026-11-11T12:00:00Z");
        assert!(
            parse_rfc3339("starts_at", "tomorrow")
                .unwrap_err()
                .starts_with("starts_at")
        );
        assert!(parse_rfc3339("x", "1960-01-01T00:00:00Z").is_err());
    }
}
