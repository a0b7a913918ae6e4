//! A payment book to and from its snapshot image: payments in record order, `paying` orders
//! with their channels, the query schedule; the indexes rebuilt by inserting the payments
//! again.

use std::borrow::Cow;

use super::{MAX_CHANNELS_PER_ORDER, PaymentBook, PaymentEntry, RefundStatus};
use crate::payment::validate_txn_id;
use crate::payment_book::validate_refund_id;
use serde::{Deserialize, Serialize};

use crate::channel_name::ChannelName;
use crate::money::UnixMillis;
use crate::payment::{Payment, PaymentKind};
use std::collections::VecDeque;

/// A campaign's payment book: its payments in record order, the `paying` orders with their
/// channels (by order index), and the query schedule as it is.
#[derive(Serialize, Deserialize)]
pub(crate) struct BookImage<'a> {
    pub(crate) entries: Vec<PaymentImage<'a>>,
    pub(crate) paying: Vec<(u32, Cow<'a, [ChannelName]>)>,
    pub(crate) query_queue: Cow<'a, VecDeque<(UnixMillis, u32)>>,
}

/// One recorded payment.
#[derive(Serialize, Deserialize)]
pub(crate) struct PaymentImage<'a> {
    pub(crate) order_index: u32,
    pub(crate) payment: Cow<'a, Payment>,
    pub(crate) kind: PaymentKind,
    pub(crate) refund: Option<Cow<'a, RefundStatus>>,
    pub(crate) recorded_at: UnixMillis,
}

impl PaymentBook {
    /// This book's image, borrowing from it (`paying` sorted by order index).
    pub(crate) fn image(&self) -> BookImage<'_> {
        let mut paying: Vec<_> = self
            .paying
            .iter()
            .map(|(&index, channels)| (index, Cow::Borrowed(channels.as_slice())))
            .collect();
        paying.sort_unstable_by_key(|&(index, _)| index);
        BookImage {
            entries: self
                .entries
                .iter()
                .map(|e| PaymentImage {
                    order_index: e.order_index,
                    payment: Cow::Borrowed(&e.payment),
                    kind: e.kind,
                    refund: e.refund.as_ref().map(Cow::Borrowed),
                    recorded_at: e.recorded_at,
                })
                .collect(),
            paying,
            query_queue: Cow::Borrowed(&self.query_queue),
        }
    }

    /// The book an image describes, for a campaign of `orders` orders. Checks every field
    /// that could make a later call panic; the campaign's invariant check does the rest.
    pub(crate) fn from_image(image: BookImage<'_>, orders: usize) -> Result<Self, String> {
        let mut book = PaymentBook {
            // Sized once, not grown payment by payment.
            by_txn: hashbrown::HashTable::with_capacity(image.entries.len()),
            settled: std::collections::HashMap::with_capacity(image.entries.len()),
            ..PaymentBook::default()
        };
        for entry in image.entries {
            let payment = entry.payment.into_owned();
            validate_txn_id(&payment.txn_id).map_err(|e| e.to_string())?;
            ensure!(
                (entry.order_index as usize) < orders,
                "a payment for an order that does not exist"
            );
            let refund = entry.refund.map(Cow::into_owned);
            if let Some(RefundStatus::Refunded { refund_id, .. }) = &refund {
                validate_refund_id(refund_id).map_err(|e| e.to_string())?;
            }
            book.try_insert(PaymentEntry {
                order_index: entry.order_index,
                payment,
                kind: entry.kind,
                refund,
                recorded_at: entry.recorded_at,
            })?;
        }
        ensure!(
            image.paying.windows(2).all(|w| w[0].0 < w[1].0),
            "paying orders out of order"
        );
        for (index, channels) in image.paying {
            ensure!(
                (index as usize) < orders,
                "a paying order that does not exist"
            );
            let channels = channels.into_owned();
            let distinct = channels
                .iter()
                .enumerate()
                .all(|(i, c)| !channels[..i].contains(c));
            ensure!(
                !channels.is_empty() && channels.len() <= MAX_CHANNELS_PER_ORDER && distinct,
                "an order paying on no channel, too many or one twice"
            );
            book.paying.insert(index, channels);
        }
        ensure!(
            image.query_queue.len() <= orders
                && image
                    .query_queue
                    .iter()
                    .all(|&(_, i)| (i as usize) < orders),
            "query schedule names orders that do not exist"
        );
        book.query_queue = image.query_queue.into_owned();
        Ok(book)
    }
}
