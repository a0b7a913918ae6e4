//! The admin side of the contract: create and read a campaign, page through its winners, read
//! an order with its payments; for a rehearsal (`--shadow`), read and reset the campaign's
//! shadow copy and page through its winners.
//!
//! With several `--target` nodes every admin call goes to the first live node: the client
//! starts at the first, and moves on to the next (in `--target` order, wrapping) only when a
//! connection to its node cannot be opened — a request never written, so sending it to
//! another node cannot double it. Once a node answers, the client stays with it.

use crate::connection::{Connection, Response, TransportError};
use bytes::Bytes;
use http::Method;
use serde::{Deserialize, Serialize};
use std::net::SocketAddr;

/// Winners page size asked for; the contract caps `limit` at 1000.
pub(crate) const WINNERS_PAGE_LIMIT: u32 = 1_000;
/// Upper bound on winners pages read (10 million winners at 1000 a page): a server returning a
/// cursor forever cannot hang the audit.
pub(crate) const MAX_WINNER_PAGES: u64 = 10_000;

/// Failures talking to the admin API.
#[derive(Debug, thiserror::Error)]
pub(crate) enum AdminError {
    /// No response.
    #[error(transparent)]
    Transport(#[from] TransportError),
    /// A response other than the contract's success.
    #[error("{what}: HTTP {status}: {body}")]
    Status {
        /// The call.
        what: &'static str,
        /// Status code.
        status: u16,
        /// Body, lossily decoded.
        body: String,
    },
    /// A success response whose JSON did not match the contract.
    #[error("{what}: unexpected JSON: {source}")]
    Json {
        /// The call.
        what: &'static str,
        /// The cause.
        source: serde_json::Error,
    },
    /// The winners cursor did not move or never ended.
    #[error("winners paging did not terminate: {0}")]
    Paging(String),
}

/// The campaign fields the bench uses (`GET /v1/campaigns/{id}`); other fields are ignored.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
pub struct CampaignView {
    /// Id.
    pub id: String,
    /// `seckill` or `red_packet`.
    pub kind: String,
    /// scheduled | active | sold_out | ended.
    pub status: String,
    /// Units (items or packets) in total.
    pub total: u64,
    /// Units not yet won.
    pub remaining: u64,
    /// Wins allowed per user (red packets: 1 if the server omits it).
    #[serde(default)]
    pub per_user_limit: Option<u64>,
    /// Red packets: the money split.
    #[serde(default)]
    pub total_cents: Option<u64>,
    /// Red packets: the smallest packet.
    #[serde(default)]
    pub min_cents: Option<u64>,
}

/// One winners row.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
pub struct Winner {
    /// Winning user.
    pub user_id: String,
    /// Order id.
    pub order_id: String,
    /// Amount (price or packet).
    pub amount_cents: u64,
    /// RFC 3339 time of the win.
    pub won_at: String,
    /// The order's state (`pending_payment`, `paying`, `paid`, …); None from a server that
    /// does not list it.
    #[serde(default)]
    pub state: Option<String>,
}

/// An order as `GET /v1/orders/{id}` shows it (the fields the payment audit uses).
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
pub struct OrderView {
    /// Order id.
    pub order_id: String,
    /// `pending_payment`, `paying`, `paid`, `expired`, `refund_pending`, ….
    pub state: String,
    /// What the order costs.
    pub amount_cents: u64,
    /// Every payment recorded for it (absent: none).
    #[serde(default)]
    pub payments: Vec<PaymentView>,
}

/// One recorded payment of an order.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
pub struct PaymentView {
    /// The channel that reported it.
    pub channel: String,
    /// The channel's transaction id.
    pub txn_id: String,
    /// Amount paid.
    pub amount_cents: u64,
    /// `paid`, `late_payment` or `duplicate_payment`.
    pub kind: String,
    /// `refund_pending` or `refunded` for a late or duplicate payment.
    #[serde(default)]
    pub refund: Option<String>,
}

/// A campaign's shadow copy (`GET /v1/admin/shadow/campaigns/{id}`).
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
pub(crate) struct ShadowView {
    /// The copy's status (scheduled | active | sold_out | ended).
    pub status: String,
    /// Units in the copy.
    pub total: u64,
    /// Units not yet won in the copy.
    pub remaining: u64,
}

#[derive(Deserialize)]
struct WinnersPage {
    winners: Vec<Winner>,
    next: Option<String>,
}

/// An admin API client over one raw connection to the first live node.
pub(crate) struct AdminClient {
    nodes: Vec<SocketAddr>,
    current: usize,
    connection: Connection,
    admin_key: String,
}

impl AdminClient {
    /// A client for `server` authenticating with `admin_key`.
    pub(crate) fn new(server: SocketAddr, admin_key: String) -> Self {
        Self::over(vec![server], admin_key)
    }

    /// A client for the first live node of `nodes` (at most `MAX_TARGETS`, from `--target`).
    ///
    /// # Panics
    /// If `nodes` is empty.
    pub(crate) fn over(nodes: Vec<SocketAddr>, admin_key: String) -> Self {
        assert!(!nodes.is_empty(), "an admin client needs a node");
        Self {
            connection: Connection::new(nodes[0]),
            nodes,
            current: 0,
            admin_key,
        }
    }

    /// The node this client talks to now.
    pub(crate) fn node(&self) -> SocketAddr {
        self.nodes[self.current]
    }

    /// Sends one request to the current node; a connect failure moves on to the next node and
    /// sends it there, each node tried once. A request that failed once it was written is not
    /// sent again.
    async fn call(
        &mut self,
        method: Method,
        path: &str,
        body: Option<Bytes>,
    ) -> Result<Response, TransportError> {
        let key = self.admin_key.clone();
        let mut tries = self.nodes.len();
        loop {
            let sent = self
                .connection
                .send(None, method.clone(), path, Some(&key), body.clone())
                .await;
            tries -= 1;
            match sent {
                Err(error @ TransportError::Connect { .. }) if tries > 0 => {
                    eprintln!("note: admin calls move on from {}: {error}", self.node());
                    self.current = (self.current + 1) % self.nodes.len();
                    self.connection = Connection::new(self.node());
                }
                answered => return answered,
            }
        }
    }

    /// `GET /healthz` answered 200.
    pub(crate) async fn healthy(&mut self) -> bool {
        matches!(
            self.connection.send(None, Method::GET, "/healthz", None, None).await,
            Ok(response) if response.status.as_u16() == 200
        )
    }

    /// `POST /v1/campaigns` with `body`; returns the new campaign.
    pub(crate) async fn create_campaign(
        &mut self,
        body: &serde_json::Value,
    ) -> Result<CampaignView, AdminError> {
        let bytes = Bytes::from(body.to_string());
        let response = self
            .call(Method::POST, "/v1/campaigns", Some(bytes))
            .await?;
        parse("create campaign", 201, response)
    }

    /// `GET /v1/campaigns/{id}`.
    pub(crate) async fn campaign(&mut self, id: &str) -> Result<CampaignView, AdminError> {
        let response = self
            .call(Method::GET, &format!("/v1/campaigns/{id}"), None)
            .await?;
        parse("get campaign", 200, response)
    }

    /// `GET /v1/orders/{id}` as the admin.
    pub(crate) async fn order(&mut self, id: &str) -> Result<OrderView, AdminError> {
        let response = self
            .call(
                Method::GET,
                &format!("/v1/orders/{}", percent_encode(id)),
                None,
            )
            .await?;
        parse("get order", 200, response)
    }

    /// `DELETE /v1/admin/shadow/campaigns/{id}`: a fresh rehearsal.
    pub(crate) async fn reset_shadow(&mut self, id: &str) -> Result<(), AdminError> {
        let path = format!("/v1/admin/shadow/campaigns/{id}");
        let response = self.call(Method::DELETE, &path, None).await?;
        expect_status("reset shadow copy", 204, &response)
    }

    /// `GET /v1/admin/shadow/campaigns/{id}`; `None` when the campaign has no shadow copy
    /// (404: no shadow grab reached it).
    pub(crate) async fn shadow(&mut self, id: &str) -> Result<Option<ShadowView>, AdminError> {
        let path = format!("/v1/admin/shadow/campaigns/{id}");
        let response = self.call(Method::GET, &path, None).await?;
        if response.status.as_u16() == 404 {
            return Ok(None);
        }
        parse("get shadow copy", 200, response).map(Some)
    }

    /// Every winner of the shadow copy (none when there is no copy).
    pub(crate) async fn all_shadow_winners(&mut self, id: &str) -> Result<Vec<Winner>, AdminError> {
        if self.shadow(id).await?.is_none() {
            return Ok(Vec::new());
        }
        self.all_winners_at(&format!("/v1/admin/shadow/campaigns/{id}/winners"))
            .await
    }

    /// Every winner, paging until `next` is null.
    pub(crate) async fn all_winners(&mut self, id: &str) -> Result<Vec<Winner>, AdminError> {
        self.all_winners_at(&format!("/v1/campaigns/{id}/winners"))
            .await
    }

    /// Every row of the winners list at `list`, paging until `next` is null.
    async fn all_winners_at(&mut self, list: &str) -> Result<Vec<Winner>, AdminError> {
        let mut winners = Vec::new();
        let mut cursor: Option<String> = None;
        for _page in 0..MAX_WINNER_PAGES {
            let mut path = format!("{list}?limit={WINNERS_PAGE_LIMIT}");
            if let Some(after) = &cursor {
                path.push_str("&after=");
                path.push_str(&percent_encode(after));
            }
            let response = self.call(Method::GET, &path, None).await?;
            let page: WinnersPage = parse("list winners", 200, response)?;
            winners.extend(page.winners);
            match page.next {
                None => return Ok(winners),
                Some(next) if cursor.as_deref() == Some(next.as_str()) => {
                    return Err(AdminError::Paging(format!("cursor {next:?} repeated")));
                }
                Some(next) => cursor = Some(next),
            }
        }
        Err(AdminError::Paging(format!(
            "more than {MAX_WINNER_PAGES} pages"
        )))
    }
}

fn expect_status(what: &'static str, expected: u16, response: &Response) -> Result<(), AdminError> {
    if response.status.as_u16() != expected {
        return Err(AdminError::Status {
            what,
            status: response.status.as_u16(),
            body: String::from_utf8_lossy(&response.body).into_owned(),
        });
    }
    Ok(())
}

fn parse<T: serde::de::DeserializeOwned>(
    what: &'static str,
    expected: u16,
    response: Response,
) -> Result<T, AdminError> {
    expect_status(what, expected, &response)?;
    serde_json::from_slice(&response.body).map_err(|source| AdminError::Json { what, source })
}

/// Percent-encodes everything outside RFC 3986 "unreserved", for a cursor in a query string.
pub(crate) fn percent_encode(value: &str) -> String {
    let mut encoded = String::with_capacity(value.len());
    for byte in value.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'_' | b'.' | b'~') {
            encoded.push(char::from(byte));
        } else {
            encoded.push_str(&format!("%{byte:02X}"));
        }
    }
    encoded
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursor_is_percent_encoded() {
        assert_eq!(percent_encode("abc-1_2.3~"), "abc-1_2.3~");
        assert_eq!(percent_encode("a b&c=/"), "a%20b%26c%3D%2F");
    }
}
