//! The ledger to and from snapshot bytes ([`crate::snapshot`]).

use std::borrow::Cow;
use std::collections::HashMap;

use super::{Ledger, TxnPlace, txn_pair};
use crate::campaign::Campaign;
use crate::grab_key::GrabKey;
use crate::order_key::OrderCipher;
use crate::snapshot::image::{KeyedWinImage, LedgerImage};
use crate::snapshot::{SnapshotError, decode, seal, unseal};
use crate::spec::MAX_CAMPAIGNS;

impl Ledger {
    /// The whole ledger as snapshot bytes: what [`Ledger::restore`] turns back into a ledger
    /// that decides exactly as this one does. Equal ledgers give equal bytes. O(orders); the
    /// caller holds the ledger still meanwhile.
    pub fn snapshot(&self) -> Vec<u8> {
        let image = LedgerImage {
            order_key: self.order_cipher.as_ref().map(|cipher| cipher.key()),
            campaigns: self.campaigns.iter().map(Campaign::image).collect(),
            keyed_wins: (0_u32..)
                .zip(&self.campaigns)
                .flat_map(|(slot, campaign)| {
                    campaign
                        .keyed_wins()
                        .into_iter()
                        .map(move |(index, key)| KeyedWinImage {
                            slot,
                            index,
                            key: Cow::Borrowed(key),
                        })
                })
                .collect(),
        };
        seal(&image)
    }

    /// The ledger `bytes` describe (written by [`Ledger::snapshot`]), with every index
    /// rebuilt and every invariant checked.
    ///
    /// # Errors
    /// [`SnapshotError`] for bytes that are not a whole, undamaged snapshot of this format,
    /// or that describe a ledger breaking a rule. Never panics.
    pub fn restore(bytes: &[u8]) -> Result<Ledger, SnapshotError> {
        let body = unseal(bytes)?;
        let image = decode(&body)?;
        Self::from_image(image).map_err(SnapshotError::Invalid)
    }

    fn from_image(image: LedgerImage<'_>) -> Result<Ledger, String> {
        ensure!(
            image.campaigns.len() <= MAX_CAMPAIGNS,
            "{} campaigns, more than {MAX_CAMPAIGNS}",
            image.campaigns.len()
        );
        let mut ledger = Ledger::new();
        let cipher = match image.order_key {
            Some(key) => OrderCipher::new(key),
            None if image.campaigns.is_empty() => return Ok(ledger),
            None => return Err("campaigns without an order key".into()),
        };
        ledger.order_cipher = Some(std::sync::Arc::clone(&cipher));
        ledger.by_id = HashMap::with_capacity(image.campaigns.len());
        for (slot, campaign) in (0_u32..).zip(image.campaigns) {
            let campaign = Campaign::from_image(campaign, slot, std::sync::Arc::clone(&cipher))?;
            ensure!(
                ledger.by_id.insert(campaign.id(), slot).is_none(),
                "campaign {} twice",
                campaign.id()
            );
            ledger.order_count += campaign.order_count();
            ledger.campaigns.push(campaign);
        }
        ledger.restore_keyed_wins(image.keyed_wins)?;
        ledger.index_payments()?;
        ledger.check_invariants()?;
        Ok(ledger)
    }

    /// Indexes the keyed wins (each checked: an order that exists, its user's key not taken).
    fn restore_keyed_wins(&mut self, wins: Vec<KeyedWinImage<'_>>) -> Result<(), String> {
        for won in wins {
            let campaign = self
                .campaigns
                .get_mut(won.slot as usize)
                .ok_or("a keyed win in a campaign that does not exist")?;
            let order = campaign
                .order_at(won.index)
                .ok_or("a keyed win for an order that does not exist")?;
            let key = GrabKey::parse(&won.key).map_err(|e| e.to_string())?;
            campaign
                .check_key(order.user_id.as_str(), key.as_str())
                .map_err(|why| format!("order {}: {why}", order.id))?;
            campaign.index_key(won.index, key);
        }
        Ok(())
    }

    /// Fills the ledger-wide transaction index from the campaigns' payments.
    fn index_payments(&mut self) -> Result<(), String> {
        for slot in 0..self.campaigns.len() {
            for entry in 0..self.campaigns[slot].payments().len() {
                let place = TxnPlace {
                    slot: slot as u32,
                    entry: entry as u32,
                };
                let payment = &self.campaigns[slot].payments()[entry].payment;
                let (channel, txn) = (payment.channel.as_str(), payment.txn_id.as_str());
                let hash = self.txn_index.hash(channel, txn);
                let pair_at = txn_pair(&self.campaigns);
                ensure!(
                    self.txn_index
                        .find_hashed(hash, channel, txn, &pair_at)
                        .is_none(),
                    "transaction {channel}/{txn} recorded twice"
                );
                self.txn_index.insert(hash, place, pair_at);
            }
        }
        Ok(())
    }
}
