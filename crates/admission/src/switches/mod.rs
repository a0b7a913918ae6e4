//! Degrade switches (S2.8, S3.4): named features an operator turns off under pressure.
//!
//! Reading a switch is one atomic load. Every flip records who flipped it and when, and is
//! logged by the caller.

use std::sync::atomic::{AtomicBool, Ordering};

use parking_lot::Mutex;
use serde::Serialize;

/// The switchable features.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Switch {
    /// `POST /v1/campaigns/{id}/grab`; off → 503 `degraded` with a preset message.
    Grab,
    /// `GET /v1/campaigns/{id}`; off → the last cached copy only.
    CampaignDetail,
    /// `GET /v1/campaigns/{id}/winners`; off → 503 `degraded`.
    Winners,
}

impl Switch {
    /// Every switch.
    pub const ALL: [Switch; 3] = [Switch::Grab, Switch::CampaignDetail, Switch::Winners];

    /// The stable name used by the API and the config file.
    pub fn name(self) -> &'static str {
        match self {
            Switch::Grab => "grab",
            Switch::CampaignDetail => "campaign_detail",
            Switch::Winners => "winners",
        }
    }

    /// The switch called `name`.
    pub fn from_name(name: &str) -> Option<Switch> {
        Switch::ALL.into_iter().find(|s| s.name() == name)
    }

    fn index(self) -> usize {
        self as usize
    }
}

/// A switch as listed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct SwitchState {
    /// Its name.
    pub name: &'static str,
    /// Whether the feature is on.
    pub on: bool,
    /// Who flipped it last (`"default"` until someone does).
    pub changed_by: String,
    /// When (Unix milliseconds; 0 until flipped).
    pub changed_at_ms: u64,
}

#[derive(Debug)]
struct Slot {
    on: AtomicBool,
    last_change: Mutex<(String, u64)>,
}

/// All switches; every one starts on.
#[derive(Debug)]
pub struct Switches {
    slots: [Slot; 3],
}

impl Default for Switches {
    fn default() -> Self {
        let slot = || Slot {
            on: AtomicBool::new(true),
            last_change: Mutex::new(("default".into(), 0)),
        };
        Self {
            slots: [slot(), slot(), slot()],
        }
    }
}

impl Switches {
    /// Whether `switch` is on (one atomic load).
    pub fn is_on(&self, switch: Switch) -> bool {
        self.slots[switch.index()].on.load(Ordering::Acquire)
    }

    /// Flips `switch`; returns the previous value.
    pub fn set(&self, switch: Switch, on: bool, who: &str, now_ms: u64) -> bool {
        let slot = &self.slots[switch.index()];
        let mut last = slot.last_change.lock();
        let previous = slot.on.swap(on, Ordering::AcqRel);
        *last = (who.to_owned(), now_ms);
        previous
    }

    /// Every switch with its state.
    pub fn list(&self) -> Vec<SwitchState> {
        Switch::ALL
            .into_iter()
            .map(|s| {
                let slot = &self.slots[s.index()];
                let last = slot.last_change.lock();
                SwitchState {
                    name: s.name(),
                    on: slot.on.load(Ordering::Acquire),
                    changed_by: last.0.clone(),
                    changed_at_ms: last.1,
                }
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flips_are_recorded() {
        let switches = Switches::default();
        assert!(Switch::ALL.iter().all(|s| switches.is_on(*s)));
        assert!(switches.set(Switch::Grab, false, "ops@10.0.0.1", 42));
        assert!(!switches.is_on(Switch::Grab));
        let grab = &switches.list()[0];
        assert_eq!(
            (
                grab.name,
                grab.on,
                grab.changed_by.as_str(),
                grab.changed_at_ms
            ),
            ("grab", false, "ops@10.0.0.1", 42)
        );
        assert_eq!(Switch::from_name("winners"), Some(Switch::Winners));
        assert_eq!(Switch::from_name("nope"), None);
    }
}
