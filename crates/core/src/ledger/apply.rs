//! Applying a record, live or replayed: each kind checked fully first, so an error changes nothing.

use std::sync::Arc;

use super::{ApplyError, Ledger};
use crate::campaign::{Campaign, UserHash};
use crate::claim::PayoutId;
use crate::ids::{CampaignId, OrderId, UserId};
use crate::money::{Cents, UnixMillis};
use crate::order_key::{OrderCipher, OrderKey};
use crate::record::Record;
use crate::spec::{CampaignSpec, MAX_CAMPAIGNS};

impl Ledger {
    /// Applies a record (live or replayed). Checks it fully first, so an error changes nothing.
    pub fn apply(&mut self, record: &Record) -> Result<(), ApplyError> {
        match record {
            Record::CampaignCreated {
                id,
                spec,
                created_at,
                order_key,
            } => self.apply_campaign_created(*id, spec, *created_at, *order_key),
            Record::Won {
                campaign_id,
                order_id,
                user_id,
                amount_cents,
                won_at,
            } => {
                let &slot = self
                    .by_id
                    .get(campaign_id)
                    .ok_or_else(|| ApplyError(format!("win in unknown campaign {campaign_id}")))?;
                let user_hash = self.campaigns[slot as usize].user_hash(user_id.as_str());
                self.apply_win(slot, user_hash, *order_id, user_id, *amount_cents, *won_at)
                    .map(drop)
            }
            Record::KeyedWon {
                campaign_id,
                order_id,
                user_id,
                amount_cents,
                won_at,
                key,
            } => {
                let &slot = self
                    .by_id
                    .get(campaign_id)
                    .ok_or_else(|| ApplyError(format!("win in unknown campaign {campaign_id}")))?;
                let campaign = &self.campaigns[slot as usize];
                campaign
                    .check_key(user_id.as_str(), key.as_str())
                    .map_err(|why| ApplyError(format!("order {order_id}: {why}")))?;
                let user_hash = campaign.user_hash(user_id.as_str());
                let index =
                    self.apply_win(slot, user_hash, *order_id, user_id, *amount_cents, *won_at)?;
                self.campaigns[slot as usize].index_key(index, key.clone());
                Ok(())
            }
            Record::OrderTransitioned {
                campaign_id,
                order_id,
                from,
                to,
                at,
            } => {
                let (campaign, index) = self.order_in(*campaign_id, *order_id, "transition")?;
                campaign
                    .check_transition(index, *from, *to, *at)
                    .map_err(|why| ApplyError(format!("order {order_id}: {why}")))?;
                campaign.apply_transition(index, *from, *to, *at);
                Ok(())
            }
            Record::ClaimPaid {
                campaign_id,
                order_id,
                payout_id,
                at: _,
            } => {
                let (campaign, index) = self.order_in(*campaign_id, *order_id, "payout")?;
                PayoutId::parse(payout_id.as_str())
                    .map_err(|e| ApplyError(format!("order {order_id}: {e}")))?;
                campaign
                    .check_claim_paid(index)
                    .map_err(|why| ApplyError(format!("order {order_id}: {why}")))?;
                campaign.apply_claim_paid(index, payout_id.clone());
                Ok(())
            }
            Record::PaymentStarted { .. }
            | Record::PaymentRecorded { .. }
            | Record::ExtraPaymentRecorded { .. }
            | Record::RefundConfirmed { .. } => self.apply_payment_record(record),
        }
    }

    /// Applies a [`Record::CampaignCreated`]: a valid spec, a new id, room for it, and the
    /// ledger's one order key.
    fn apply_campaign_created(
        &mut self,
        id: CampaignId,
        spec: &CampaignSpec,
        created_at: UnixMillis,
        order_key: OrderKey,
    ) -> Result<(), ApplyError> {
        spec.validate()
            .map_err(|e| ApplyError(format!("campaign {id}: {e}")))?;
        if self.by_id.contains_key(&id) {
            return Err(ApplyError(format!("campaign {id} created twice")));
        }
        if self.campaigns.len() >= MAX_CAMPAIGNS {
            return Err(ApplyError("more than MAX_CAMPAIGNS campaigns".into()));
        }
        let cipher = match &self.order_cipher {
            Some(cipher) if cipher.key() != order_key => {
                return Err(ApplyError(format!(
                    "campaign {id} carries a different order key"
                )));
            }
            Some(cipher) => Arc::clone(cipher),
            None => OrderCipher::new(order_key),
        };
        self.order_cipher = Some(Arc::clone(&cipher));
        let slot = u32::try_from(self.campaigns.len()).expect("bounded by MAX_CAMPAIGNS");
        self.campaigns
            .push(Campaign::new(id, spec.clone(), created_at, slot, cipher));
        self.by_id.insert(id, slot);
        Ok(())
    }

    /// The campaign holding `order_id` and the order's index there, checked to be
    /// `campaign_id` (`what` names the record in the error).
    fn order_in(
        &mut self,
        campaign_id: CampaignId,
        order_id: OrderId,
        what: &str,
    ) -> Result<(&mut Campaign, u32), ApplyError> {
        let (slot, index) = self
            .place_of(order_id)
            .ok_or_else(|| ApplyError(format!("{what} of unknown order {order_id}")))?;
        let campaign = &mut self.campaigns[slot as usize];
        if campaign.id() != campaign_id {
            return Err(ApplyError(format!(
                "order {order_id} is not in campaign {campaign_id}"
            )));
        }
        Ok((campaign, index))
    }

    /// Applies a [`Record::Won`] in the campaign at `slot`, `user_hash` being the winner's
    /// [`Campaign::user_hash`] there: what [`Ledger::apply`] runs for a win, live or replayed
    /// (a grab hands over the slot and hash it already has). Checks fully first. Returns the
    /// new order's index.
    pub(super) fn apply_win(
        &mut self,
        slot: u32,
        user_hash: UserHash,
        order_id: OrderId,
        user_id: &UserId,
        amount_cents: Cents,
        won_at: UnixMillis,
    ) -> Result<u32, ApplyError> {
        self.commit_win(
            slot,
            user_hash,
            order_id,
            None,
            user_id,
            amount_cents,
            won_at,
        )
    }

    /// [`Self::apply_win`], told the nonce when the caller has just made `order_id` for the
    /// campaign's next place with it (as carried in the id): then the id is not deciphered
    /// again (checked in debug builds; replay checks every id).
    #[allow(clippy::too_many_arguments)] // the fields of a win record, plus where it goes
    pub(super) fn commit_win(
        &mut self,
        slot: u32,
        user_hash: UserHash,
        order_id: OrderId,
        known_nonce: Option<u32>,
        user_id: &UserId,
        amount_cents: Cents,
        won_at: UnixMillis,
    ) -> Result<u32, ApplyError> {
        let campaign = &mut self.campaigns[slot as usize];
        campaign
            .check_win(user_id, user_hash, amount_cents)
            .map_err(|why| ApplyError(format!("order {order_id}: {why}")))?;
        let nonce = match known_nonce {
            Some(nonce) => {
                debug_assert_eq!(campaign.names_next_place(order_id, won_at), Some(nonce));
                nonce
            }
            // The id must name the campaign's next place: this also refuses an id used twice.
            None => campaign
                .names_next_place(order_id, won_at)
                .ok_or_else(|| ApplyError(format!("order {order_id} does not name its place")))?,
        };
        let index = campaign.apply_win(nonce, user_id, user_hash, amount_cents, won_at);
        self.order_count += 1;
        Ok(index)
    }
}
