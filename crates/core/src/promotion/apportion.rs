//! Spreading an order-level discount over the order's lines in exact integer cents.

use crate::money::Cents;

/// Splits `discount` over lines in proportion to `amounts`, in whole cents: line `i` gets
/// `floor(amounts[i] × discount / Σ amounts)`; the cents this leaves over (fewer than the number
/// of lines) go to the largest line, the first in order among equals. Should that line have less
/// left than the left-over cents, the rest spill to the next largest, and so on.
///
/// The result has one share per line, sums exactly to `discount`, and no share exceeds its
/// line's amount, so no line is left negative. Spilling always finishes: after the floors, the
/// lines still hold `Σ amounts − Σ floors = (Σ amounts − discount) + left-over ≥ left-over`
/// cents, because `discount ≤ Σ amounts`.
///
/// Products are taken in `u128` (`u64 × u64` always fits), so no input can overflow.
///
/// # Panics
/// If `discount` exceeds the sum of `amounts`: that would take a line below zero.
pub fn apportion(amounts: &[Cents], discount: Cents) -> Vec<Cents> {
    let total: u128 = amounts.iter().map(|amount| u128::from(amount.0)).sum();
    let discount_wide = u128::from(discount.0);
    assert!(
        discount_wide <= total,
        "apportion: discount {discount:?} exceeds the lines' total {total}c"
    );
    if discount_wide == 0 {
        return vec![Cents::ZERO; amounts.len()];
    }
    let mut shares: Vec<u64> = amounts
        .iter()
        .map(|amount| {
            let share = u128::from(amount.0) * discount_wide / total;
            u64::try_from(share).expect("a share is at most its line's amount")
        })
        .collect();
    let floored: u128 = shares.iter().map(|&share| u128::from(share)).sum();
    let mut left_over = discount_wide - floored;
    assert!(
        left_over < amounts.len() as u128,
        "floors lose less than a cent per line"
    );

    let mut largest_first: Vec<usize> = (0..amounts.len()).collect();
    largest_first.sort_by(|&a, &b| amounts[b].cmp(&amounts[a]).then(a.cmp(&b)));
    for index in largest_first {
        if left_over == 0 {
            break;
        }
        let room = u128::from(amounts[index].0 - shares[index]);
        let taken = room.min(left_over);
        shares[index] += u64::try_from(taken).expect("taken is at most a line's amount");
        left_over -= taken;
    }
    assert_eq!(
        left_over, 0,
        "the lines always have room for the left-over cents"
    );

    let shares: Vec<Cents> = shares.into_iter().map(Cents).collect();
    debug_assert_eq!(
        shares.iter().map(|share| u128::from(share.0)).sum::<u128>(),
        discount_wide
    );
    debug_assert!(
        amounts
            .iter()
            .zip(&shares)
            .all(|(amount, share)| share <= amount)
    );
    shares
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cents(values: &[u64]) -> Vec<Cents> {
        values.iter().copied().map(Cents).collect()
    }

    #[test]
    fn left_over_goes_to_the_largest_line_first_in_order() {
        // 10 × 100 / 300 = 3.33 each: floors 3, 3, 3; one cent left, to the first largest.
        assert_eq!(
            apportion(&cents(&[100, 100, 100]), Cents(10)),
            cents(&[4, 3, 3])
        );
        assert_eq!(
            apportion(&cents(&[100, 200, 200]), Cents(10)),
            cents(&[2, 4, 4])
        );
        assert_eq!(
            apportion(&cents(&[100, 200, 201]), Cents(10)),
            cents(&[1, 3, 6])
        );
    }

    #[test]
    fn one_cent_over_three_equal_lines() {
        assert_eq!(apportion(&cents(&[5, 5, 5]), Cents(1)), cents(&[1, 0, 0]));
    }

    #[test]
    fn left_over_spills_when_the_largest_line_is_full() {
        // Floors take all but one cent of each line; two cents are left over and the largest
        // line has only one cent of room, so the second spills to the next line.
        let amounts = cents(&[3, 3, 3]);
        let shares = apportion(&amounts, Cents(8));
        assert_eq!(shares, cents(&[3, 3, 2]));
    }

    #[test]
    fn whole_discount_and_zero_discount_are_exact() {
        assert_eq!(apportion(&cents(&[7, 0, 5]), Cents(12)), cents(&[7, 0, 5]));
        assert_eq!(apportion(&cents(&[7, 0, 5]), Cents(0)), cents(&[0, 0, 0]));
        assert_eq!(apportion(&[], Cents(0)), Vec::<Cents>::new());
    }

    #[test]
    fn largest_amounts_do_not_overflow() {
        let amounts = cents(&[u64::MAX / 2, u64::MAX / 2]);
        let shares = apportion(&amounts, Cents(u64::MAX - 1));
        assert_eq!(shares, amounts);
    }

    #[test]
    #[should_panic(expected = "exceeds the lines' total")]
    fn more_discount_than_the_lines_hold_panics() {
        apportion(&cents(&[1, 1]), Cents(3));
    }
}
