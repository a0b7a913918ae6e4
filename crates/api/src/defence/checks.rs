//! The checks a request meets, in order: client address and blocklist, the rules known before
//! authentication, the token holder against the blocklist, the rules after it (whose
//! rejections may trip an automatic ban), and the write path's overload admission.

use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::Ordering;

use axum::http::{HeaderMap, HeaderValue};
use stampede_admission::blocklist::{BanKey, Entry, ListKind, Origin, Subject, Verdict};
use stampede_admission::client_ip::client_ip;
use stampede_admission::clock::SharedClock;
use stampede_admission::overload::{AdaptivePermit, Admission};
use stampede_admission::retry_after_secs;
use stampede_admission::rules::{
    self, Admitted, Dimension, LimitAnswer, RejectionKind, RequestKeys, RuleSet, Stage,
};
use stampede_admission::switches::Switch;

use super::Defence;
use crate::error::AppError;

impl Defence {
    /// The client address: the peer, or X-Forwarded-For from a trusted proxy. Every line of
    /// the header is passed on (a proxy may append a line of its own), borrowed: no allocation.
    pub fn client_ip(&self, peer: Option<SocketAddr>, headers: &HeaderMap) -> Option<IpAddr> {
        let forwarded = headers
            .get_all("x-forwarded-for")
            .iter()
            .map(HeaderValue::as_bytes);
        self.client_ip_from(peer, forwarded)
    }

    /// [`Self::client_ip`] from the `X-Forwarded-For` lines as they came, in order (the
    /// grab's own HTTP path reads them without building a `HeaderMap`).
    pub fn client_ip_from<'h>(
        &self,
        peer: Option<SocketAddr>,
        forwarded: impl DoubleEndedIterator<Item = &'h [u8]>,
    ) -> Option<IpAddr> {
        Some(client_ip(peer?.ip(), forwarded, &self.trusted))
    }

    /// The front door of a route: client address, blocklist by address, and the rules known
    /// before authentication. Returns the request's keys (no user yet) and the admission to
    /// hold until the response (concurrency rules count the request in flight until then).
    pub async fn front_door<'a>(
        &self,
        route: rules::Route,
        peer: Option<SocketAddr>,
        headers: &HeaderMap,
        campaign: Option<u128>,
        now_ms: u64,
    ) -> Result<(RequestKeys<'a>, Admitted), AppError> {
        self.front_door_at(route, self.client_ip(peer, headers), campaign, now_ms)
            .await
    }

    /// [`Self::front_door`] for a client address already read.
    pub async fn front_door_at<'a>(
        &self,
        route: rules::Route,
        ip: Option<IpAddr>,
        campaign: Option<u128>,
        now_ms: u64,
    ) -> Result<(RequestKeys<'a>, Admitted), AppError> {
        self.check_ip(ip, now_ms)?;
        let keys = RequestKeys {
            route,
            ip,
            user: None,
            campaign,
        };
        let admitted = self.admit(Stage::BeforeAuth, &keys, now_ms).await?;
        Ok((keys, admitted))
    }

    /// 503 `degraded` when `switch` is off.
    pub fn require_on(&self, switch: Switch) -> Result<(), AppError> {
        if self.switches.is_on(switch) {
            return Ok(());
        }
        self.metrics.switched_off.increment(1);
        Err(AppError::SwitchedOff(switch.name()))
    }

    /// 403 `blocked` for a blocked address.
    pub fn check_ip(&self, ip: Option<IpAddr>, now_ms: u64) -> Result<(), AppError> {
        let Some(ip) = ip else { return Ok(()) };
        match self.blocklist.check_ip(ip, now_ms) {
            Verdict::Blocked { reason, until_ms } => {
                self.metrics.blocked_ip.increment(1);
                Err(AppError::Blocked { reason, until_ms })
            }
            Verdict::Allowed | Verdict::Clear => Ok(()),
        }
    }

    /// 403 `blocked` for a blocked user.
    pub fn check_user(&self, user: &str, now_ms: u64) -> Result<(), AppError> {
        match self.blocklist.check_user(user, now_ms) {
            Verdict::Blocked { reason, until_ms } => {
                self.metrics.blocked_user.increment(1);
                Err(AppError::Blocked { reason, until_ms })
            }
            Verdict::Allowed | Verdict::Clear => Ok(()),
        }
    }

    /// Runs the rules of `stage`; a rejection may trip an automatic ban. Which rules run is a
    /// lookup precomputed per (route, stage) when the rules were compiled.
    pub async fn admit(
        &self,
        stage: Stage,
        keys: &RequestKeys<'_>,
        now_ms: u64,
    ) -> Result<Admitted, AppError> {
        let rules = self.rules.load();
        if !rules.applies(keys.route, stage) {
            return Ok(Admitted::default());
        }
        match rules.admit(stage, keys).await {
            Ok(admitted) => Ok(admitted),
            Err(rejection) => {
                if rejection.auto_ban {
                    self.count_toward_ban(&rules, &rejection, keys, now_ms);
                }
                let retry_after_secs = retry_after_secs(rejection.retry_after);
                Err(match rejection.kind {
                    RejectionKind::QueueTimeout => AppError::QueueTimeout { retry_after_secs },
                    RejectionKind::QueueFull => AppError::Overloaded,
                    RejectionKind::RateLimited(answer) => AppError::RuleLimited {
                        unavailable: answer == LimitAnswer::Unavailable,
                        retry_after_secs,
                    },
                })
            }
        }
    }

    fn count_toward_ban(
        &self,
        rules: &RuleSet,
        rejection: &rules::Rejection,
        keys: &RequestKeys<'_>,
        now_ms: u64,
    ) {
        /// The offender, borrowed: a rejection that trips no ban allocates nothing.
        enum Offender<'k> {
            User(&'k str),
            Ip(IpAddr),
        }
        let (key, offender) = match (rejection.dimension, keys.user, keys.ip) {
            (Dimension::User, Some(user), _) => {
                (BanKey::User(rules.hash_user(user)), Offender::User(user))
            }
            (Dimension::Ip, _, Some(ip)) => (BanKey::Ip(rules.hash_ip(ip)), Offender::Ip(ip)),
            _ => return,
        };
        let verdict = match offender {
            Offender::User(user) => self.blocklist.check_user(user, now_ms),
            Offender::Ip(ip) => self.blocklist.check_ip(ip, now_ms),
        };
        if verdict == Verdict::Allowed || !self.auto_ban.record_rejection(key, now_ms) {
            return;
        }
        // The ban trips (once per window per key): only now is the entry built.
        let subject = match offender {
            Offender::User(user) => Subject::User(user.to_owned()),
            Offender::Ip(ip) => Subject::ip(ip),
        };
        let config = self.auto_ban.config();
        let entry = Entry {
            list: ListKind::Block,
            reason: format!(
                "auto-ban: rule {} rejected more than {} requests within {} s",
                rejection.rule,
                config.threshold,
                config.window.as_secs()
            ),
            subject,
            origin: Origin::AutoBan,
            created_at_ms: now_ms,
            expires_at_ms: Some(
                now_ms
                    .saturating_add(u64::try_from(config.ban_for.as_millis()).unwrap_or(u64::MAX)),
            ),
        };
        tracing::warn!(kind = entry.subject.kind(), value = %entry.subject.value(), reason = %entry.reason, "automatic ban");
        if self.blocklist.insert(entry).is_ok() {
            self.metrics.auto_bans.increment(1);
            self.dirty.store(true, Ordering::Release);
        }
    }

    /// Adaptive overload protection for the write path: a permit to hold while the engine
    /// works, or 503 `overloaded`.
    pub fn admit_write(&self) -> Result<Option<AdaptivePermit<SharedClock>>, AppError> {
        let Some(adaptive) = &self.adaptive else {
            return Ok(None);
        };
        match adaptive.try_admit() {
            Admission::Admit(permit) => Ok(Some(permit)),
            Admission::Shed { reason } => {
                match reason {
                    stampede_admission::ShedReason::Capacity => {
                        self.metrics.shed_capacity.increment(1)
                    }
                    stampede_admission::ShedReason::LatencyTarget => {
                        self.metrics.shed_latency.increment(1)
                    }
                }
                Err(AppError::Overloaded)
            }
        }
    }
}
