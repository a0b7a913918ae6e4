//! The double-mean red-packet split (S0.3).
//!
//! Each packet is drawn uniformly from `[min, 2 × remaining_mean]`, capped so every packet still
//! to come can get its minimum; the last packet takes exactly what remains. The draws therefore
//! always sum to the pool's total and each is at least `min`.

use rand::Rng;
use serde::{Deserialize, Serialize};

use crate::money::Cents;

/// What is left of a red-packet pool.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PacketPool {
    /// Money not yet handed out.
    pub remaining_cents: Cents,
    /// Packets not yet handed out.
    pub remaining_count: u64,
    /// Smallest packet.
    pub min_cents: Cents,
}

impl PacketPool {
    /// A fresh pool.
    ///
    /// # Panics
    /// If `count × min > total` (the spec validation rejects such a campaign first).
    pub fn new(total: Cents, count: u64, min: Cents) -> Self {
        let pool = Self {
            remaining_cents: total,
            remaining_count: count,
            min_cents: min,
        };
        pool.assert_invariant();
        pool
    }

    /// Every packet still to come can get its minimum.
    pub fn assert_invariant(&self) {
        let floor = self.remaining_count.checked_mul(self.min_cents.0);
        assert!(
            floor.is_some_and(|f| f <= self.remaining_cents.0),
            "red-packet pool broke its floor: {self:?}"
        );
        if self.remaining_count == 0 {
            assert_eq!(
                self.remaining_cents,
                Cents::ZERO,
                "empty pool holds money: {self:?}"
            );
        }
    }

    /// The bounds `[low, high]` the next packet is drawn from, or `None` when the pool is empty.
    pub fn next_bounds(&self) -> Option<(u64, u64)> {
        let n = self.remaining_count;
        if n == 0 {
            return None;
        }
        let remaining = self.remaining_cents.0;
        if n == 1 {
            return Some((remaining, remaining));
        }
        let min = self.min_cents.0;
        // Twice the mean of what remains, in integer cents (floor).
        let double_mean = remaining.saturating_mul(2) / n;
        // Leave enough for the n-1 packets after this one to get their minimum.
        let cap = remaining - (n - 1) * min;
        let high = double_mean.min(cap).max(min);
        Some((min, high))
    }

    /// Draws the next packet with the caller's RNG and takes it out of the pool.
    pub fn draw(&mut self, rng: &mut impl Rng) -> Option<Cents> {
        let (low, high) = self.next_bounds()?;
        let amount = if low == high {
            low
        } else {
            rng.random_range(low..=high)
        };
        self.take(Cents(amount));
        Some(Cents(amount))
    }

    /// Takes a packet of `amount` out of the pool (also used by journal replay).
    ///
    /// # Panics
    /// If the pool is empty or taking `amount` would break the floor: a journal that says so
    /// was not written by this code.
    pub fn take(&mut self, amount: Cents) {
        assert!(self.remaining_count > 0, "took a packet from an empty pool");
        assert!(amount >= self.min_cents, "packet {amount:?} below minimum");
        self.remaining_cents = self
            .remaining_cents
            .checked_sub(amount)
            .expect("packet larger than the pool");
        self.remaining_count -= 1;
        self.assert_invariant();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    #[test]
    fn last_packet_takes_the_rest() {
        let mut pool = PacketPool::new(Cents(10), 1, Cents(1));
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        assert_eq!(pool.draw(&mut rng), Some(Cents(10)));
        assert_eq!(pool.draw(&mut rng), None);
    }

    #[test]
    fn tight_pool_gives_everyone_the_minimum() {
        let mut pool = PacketPool::new(Cents(300), 3, Cents(100));
        let mut rng = ChaCha8Rng::seed_from_u64(7);
        let drawn: Vec<_> = std::iter::from_fn(|| pool.draw(&mut rng)).collect();
        assert_eq!(drawn, vec![Cents(100); 3]);
    }

    #[test]
    fn bounds_follow_double_mean() {
        let pool = PacketPool::new(Cents(1000), 10, Cents(1));
        assert_eq!(pool.next_bounds(), Some((1, 200)));
    }
}
