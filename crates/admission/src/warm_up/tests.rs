//! Ramp values, re-cooling after idle, validation.

use std::time::Duration;

use super::*;

const SECOND: u64 = 1_000_000_000;

#[test]
fn default_ramp_goes_from_a_third_to_full_linearly() {
    let warm_up = WarmUp::over(Duration::from_secs(10));
    assert_eq!(warm_up.permille_at(Duration::ZERO), 333);
    assert_eq!(warm_up.permille_at(Duration::from_secs(1)), 399); // 333 + 667 / 10
    assert_eq!(warm_up.permille_at(Duration::from_secs(5)), 666); // 333 + 333.5
    assert_eq!(warm_up.permille_at(Duration::from_millis(9_999)), 999);
    assert_eq!(warm_up.permille_at(Duration::from_secs(10)), 1_000);
    assert_eq!(warm_up.permille_at(Duration::from_secs(3_600)), 1_000);
}

#[test]
fn zero_period_is_always_warm_and_factor_one_is_flat() {
    assert_eq!(
        WarmUp::over(Duration::ZERO).permille_at(Duration::ZERO),
        1_000
    );
    let flat = WarmUp {
        period: Duration::from_secs(5),
        cold_factor: NonZeroU32::MIN,
    };
    assert_eq!(flat.permille_at(Duration::ZERO), 1_000);
}

#[test]
fn ramp_recools_after_a_whole_idle_period() {
    let ramp = Ramp::new(WarmUp::over(Duration::from_secs(10)), 0);
    assert_eq!(ramp.permille(0), 333);
    assert_eq!(ramp.permille(5 * SECOND), 666);
    assert_eq!(ramp.permille(12 * SECOND), 1_000);
    // 9.999 s idle: still warm.
    assert_eq!(ramp.permille(22 * SECOND - 1_000_000), 1_000);
    // 10 s idle: cold again, the ramp restarts at this request.
    assert_eq!(ramp.permille(32 * SECOND), 333);
    assert_eq!(ramp.permille(37 * SECOND), 666);
    assert_eq!(ramp.cold_permille(), 333);
}

#[test]
fn scale_keeps_at_least_one() {
    assert_eq!(scale(10, 333), 3);
    assert_eq!(scale(1, 333), 1);
    assert_eq!(scale(7, 1_000), 7);
}

#[test]
fn validate_bounds() {
    assert_eq!(WarmUp::over(MAX_WARM_UP_PERIOD).validate(), Ok(()));
    assert!(matches!(
        WarmUp::over(MAX_WARM_UP_PERIOD + Duration::from_secs(1)).validate(),
        Err(WarmUpError::PeriodTooLong { .. })
    ));
    let too_cold = WarmUp {
        period: Duration::from_secs(1),
        cold_factor: NonZeroU32::new(MAX_COLD_FACTOR + 1).unwrap(),
    };
    assert_eq!(
        too_cold.validate(),
        Err(WarmUpError::ColdFactorTooLarge {
            cold_factor: MAX_COLD_FACTOR + 1
        })
    );
}
