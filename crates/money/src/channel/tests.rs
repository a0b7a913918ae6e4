//! Tests of the payment channels: the simulator ([`sim`](mod@sim), its books on disk in
//! [`sim_store`]) and the router ([`router`](mod@router)), with the helpers they share.

use std::sync::Arc;

use parking_lot::Mutex;
use stampede_core::{Cents, OrderId, Payment, UnixMillis};

use super::{CallbackSink, ChannelFuture, SimChannel, SimChannelConfig};
use stampede_clock::ManualClock;

mod router;
mod sim;
mod sim_store;

/// A sink that remembers every callback, in delivery order.
#[derive(Debug, Default)]
struct RecordingSink {
    callbacks: Mutex<Vec<(OrderId, Payment)>>,
}

impl RecordingSink {
    fn callbacks(&self) -> Vec<(OrderId, Payment)> {
        self.callbacks.lock().clone()
    }
}

impl CallbackSink for RecordingSink {
    fn deliver(&self, order: OrderId, payment: Payment) -> ChannelFuture<'static, ()> {
        self.callbacks.lock().push((order, payment));
        Box::pin(std::future::ready(()))
    }
}

fn order(n: u128) -> OrderId {
    OrderId(n)
}

const AMOUNT: Cents = Cents(1_999);
const START: UnixMillis = UnixMillis(1_700_000_000_000);

/// A simulated channel with a recording sink and a manual clock at [`START`].
fn sim_with_sink(config: SimChannelConfig) -> (SimChannel, Arc<RecordingSink>) {
    let channel = SimChannel::new(config, Arc::new(ManualClock::new(START)));
    let sink = Arc::new(RecordingSink::default());
    channel.set_sink(sink.clone());
    (channel, sink)
}

/// A simulated channel named `name` whose customers never pay by themselves.
fn quiet_sim(name: &str) -> SimChannel {
    let config = SimChannelConfig {
        name: stampede_core::ChannelName::parse(name).unwrap(),
        auto_pay: false,
        ..SimChannelConfig::default()
    };
    SimChannel::new(config, Arc::new(ManualClock::new(START)))
}
