//! An in-memory fake Stampede server implementing the HTTP contract the bench drives:
//! campaigns (seckill and red packet), per-user limits, per-user rate limiting with sold_out
//! answered first, winners paging, HMAC user tokens and an admin key, and (in `payments`)
//! paying an order and reading it back. Faults can be switched on to check that the auditor
//! catches a broken server.
//!
//! Over 400 lines on purpose: one fake server implementing the whole contract the bench drives;
//! its faults are switches inside that one implementation.

#![allow(dead_code)] // Each test binary uses a different part of the support code.

use bytes::Bytes;
use hmac::{Hmac, Mac};
use http::{Method, Request, Response, StatusCode, header};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use serde_json::{Value, json};
use sha2::Sha256;
use std::collections::HashMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::time::Instant;

/// Secret the fake verifies user tokens with.
pub(crate) const TOKEN_SECRET: &str = "fake-token-secret";
/// Admin key the fake accepts.
pub(crate) const ADMIN_KEY: &str = "fake-admin-key";

/// How the fake misbehaves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Fault {
    /// Honest.
    None,
    /// Lets this many extra users win after stock reaches zero.
    Oversell(u64),
    /// Omits the first won order from the winners list (a lost acknowledged win).
    DropFirstWinner,
    /// Answers pay 200 but the orders stay `paying` (a lost callback never found).
    PayStuck,
    /// Records each payment one cent above its order's amount.
    PaidAmountOff,
}

/// Fake server behaviour.
#[derive(Debug, Clone, Copy)]
pub(crate) struct FakeConfig {
    /// Fault to inject.
    pub fault: Fault,
    /// Minimum interval between one user's grabs (None: no rate limit).
    pub rate_limit: Option<Duration>,
}

impl Default for FakeConfig {
    fn default() -> Self {
        Self {
            fault: Fault::None,
            rate_limit: Some(Duration::from_secs(1)),
        }
    }
}

mod payments;

struct Order {
    user_id: String,
    order_id: String,
    amount_cents: u64,
    state: &'static str,
    /// Amount of the one recorded payment, once paid.
    paid_cents: Option<u64>,
}

struct Campaign {
    id: String,
    kind: &'static str,
    total: u64,
    remaining: u64,
    per_user_limit: u64,
    price_cents: u64,
    cents_left: u64,
    total_cents: u64,
    min_cents: u64,
    extra_wins_left: u64,
    orders: Vec<Order>,
    per_user: HashMap<String, Vec<usize>>,
    last_grab: HashMap<String, Instant>,
}

struct State {
    config: FakeConfig,
    campaigns: HashMap<String, Campaign>,
    next_id: u64,
}

/// A running fake; dropping it stops the accept loop.
pub(crate) struct FakeServer {
    /// Where it listens.
    pub address: SocketAddr,
    _stop: oneshot::Sender<()>,
}

impl FakeServer {
    /// `http://address`.
    pub(crate) fn url(&self) -> String {
        format!("http://{}", self.address)
    }
}

/// Starts a fake on an ephemeral loopback port.
pub(crate) async fn start(config: FakeConfig) -> FakeServer {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let address = listener.local_addr().expect("address");
    let state = Arc::new(Mutex::new(State {
        config,
        campaigns: HashMap::new(),
        next_id: 1,
    }));
    let (stop, mut stopped) = oneshot::channel::<()>();
    tokio::spawn(async move {
        loop {
            let stream = tokio::select! {
                _ = &mut stopped => break,
                accepted = listener.accept() => match accepted {
                    Ok((stream, _)) => stream,
                    Err(_) => continue,
                },
            };
            let state = state.clone();
            tokio::spawn(async move {
                let service = service_fn(move |request| {
                    let state = state.clone();
                    async move { Ok::<_, Infallible>(handle(&state, request).await) }
                });
                let _closed = http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    FakeServer {
        address,
        _stop: stop,
    }
}

fn reply(status: StatusCode, body: Value) -> Response<Full<Bytes>> {
    Response::builder()
        .status(status)
        .header(header::CONTENT_TYPE, "application/json")
        .body(Full::new(Bytes::from(body.to_string())))
        .expect("valid response")
}

fn error(status: StatusCode, code: &str) -> Response<Full<Bytes>> {
    reply(status, json!({"error": {"code": code, "message": code}}))
}

fn bearer(request: &Request<Incoming>) -> Option<String> {
    let value = request
        .headers()
        .get(header::AUTHORIZATION)?
        .to_str()
        .ok()?;
    value.strip_prefix("Bearer ").map(str::to_owned)
}

/// Verifies a user token independently of the bench's minting code.
fn verify_user(token: &str) -> Option<String> {
    let (payload, tag) = token.rsplit_once('.')?;
    let mut parts = payload.split('.');
    let (version, user, _expires) = (parts.next()?, parts.next()?, parts.next()?);
    if version != "v1" || parts.next().is_some() {
        return None;
    }
    let valid_user = !user.is_empty()
        && user.len() <= 64
        && user
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(TOKEN_SECRET.as_bytes()).ok()?;
    mac.update(payload.as_bytes());
    let expected = hex::encode(mac.finalize().into_bytes());
    (valid_user && expected == tag).then(|| user.to_owned())
}

async fn handle(state: &Mutex<State>, request: Request<Incoming>) -> Response<Full<Bytes>> {
    let method = request.method().clone();
    let path = request.uri().path().to_owned();
    let query = request.uri().query().unwrap_or("").to_owned();
    let token = bearer(&request);
    let body = match request.into_body().collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(_) => return error(StatusCode::BAD_REQUEST, "bad_request"),
    };
    let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
    let is_admin = token.as_deref() == Some(ADMIN_KEY);
    let mut state = state.lock().expect("fake state lock");
    match (&method, segments.as_slice()) {
        (&Method::GET, ["healthz"]) => reply(StatusCode::OK, json!({"ok": true})),
        (&Method::POST, ["v1", "campaigns"]) if is_admin => create(&mut state, &body),
        (&Method::GET, ["v1", "campaigns", id]) if is_admin => match state.campaigns.get(*id) {
            Some(campaign) => reply(StatusCode::OK, view(campaign)),
            None => error(StatusCode::NOT_FOUND, "campaign_not_found"),
        },
        (&Method::GET, ["v1", "campaigns", id, "winners"]) if is_admin => {
            winners(&state, id, &query)
        }
        (&Method::POST, ["v1", "orders", id, "pay"]) => {
            let Some(user) = token.as_deref().and_then(verify_user) else {
                return error(StatusCode::UNAUTHORIZED, "unauthorized");
            };
            payments::pay(&mut state, id, &user)
        }
        (&Method::GET, ["v1", "orders", id]) if is_admin => payments::show(&state, id),
        (&Method::POST, ["v1", "campaigns", id, "grab"]) => {
            let Some(user) = token.as_deref().and_then(verify_user) else {
                return error(StatusCode::UNAUTHORIZED, "unauthorized");
            };
            let config = state.config;
            match state.campaigns.get_mut(*id) {
                Some(campaign) => grab(campaign, config, user),
                None => error(StatusCode::NOT_FOUND, "campaign_not_found"),
            }
        }
        _ if !is_admin && segments.first() == Some(&"v1") => {
            error(StatusCode::UNAUTHORIZED, "unauthorized")
        }
        _ => error(StatusCode::NOT_FOUND, "not_found"),
    }
}

fn create(state: &mut State, body: &[u8]) -> Response<Full<Bytes>> {
    let Ok(spec) = serde_json::from_slice::<Value>(body) else {
        return error(StatusCode::BAD_REQUEST, "bad_request");
    };
    let number = |field: &str| spec.get(field).and_then(Value::as_u64);
    let id = format!("camp{}", state.next_id);
    state.next_id += 1;
    let extra_wins_left = match state.config.fault {
        Fault::Oversell(extra) => extra,
        _ => 0,
    };
    let (kind, total, per_user_limit, price_cents, total_cents, min_cents) =
        match spec.get("kind").and_then(Value::as_str) {
            Some("seckill") => match (number("stock"), number("price_cents")) {
                (Some(stock), Some(price)) => (
                    "seckill",
                    stock,
                    number("per_user_limit").unwrap_or(1),
                    price,
                    0,
                    0,
                ),
                _ => return error(StatusCode::BAD_REQUEST, "bad_request"),
            },
            Some("red_packet") => match (number("count"), number("total_cents")) {
                (Some(count), Some(cents)) => (
                    "red_packet",
                    count,
                    1,
                    0,
                    cents,
                    number("min_cents").unwrap_or(1),
                ),
                _ => return error(StatusCode::BAD_REQUEST, "bad_request"),
            },
            _ => return error(StatusCode::BAD_REQUEST, "bad_request"),
        };
    let campaign = Campaign {
        id: id.clone(),
        kind,
        total,
        remaining: total,
        per_user_limit,
        price_cents,
        cents_left: total_cents,
        total_cents,
        min_cents,
        extra_wins_left,
        orders: Vec::new(),
        per_user: HashMap::new(),
        last_grab: HashMap::new(),
    };
    let body = view(&campaign);
    state.campaigns.insert(id, campaign);
    reply(StatusCode::CREATED, body)
}

fn view(campaign: &Campaign) -> Value {
    let status = if campaign.remaining == 0 {
        "sold_out"
    } else {
        "active"
    };
    let mut body = json!({
        "id": campaign.id,
        "kind": campaign.kind,
        "name": "fake",
        "status": status,
        "total": campaign.total,
        "remaining": campaign.remaining,
        "per_user_limit": campaign.per_user_limit,
    });
    if campaign.kind == "red_packet" {
        body["total_cents"] = json!(campaign.total_cents);
        body["min_cents"] = json!(campaign.min_cents);
    }
    body
}

fn grab(campaign: &mut Campaign, config: FakeConfig, user: String) -> Response<Full<Bytes>> {
    let held = campaign.per_user.get(&user).map_or(0, Vec::len) as u64;
    // Sold out is answered before rate limiting, as the real server does.
    if campaign.remaining == 0 && campaign.extra_wins_left == 0 && held < campaign.per_user_limit {
        return error(StatusCode::GONE, "sold_out");
    }
    if let Some(interval) = config.rate_limit {
        let now = Instant::now();
        let limited = campaign
            .last_grab
            .get(&user)
            .is_some_and(|last| now.duration_since(*last) < interval);
        if limited {
            let mut response = error(StatusCode::TOO_MANY_REQUESTS, "rate_limited");
            response.headers_mut().insert(
                header::RETRY_AFTER,
                header::HeaderValue::from(interval.as_secs().max(1)),
            );
            return response;
        }
        campaign.last_grab.insert(user.clone(), now);
    }
    if held >= campaign.per_user_limit {
        let last = *campaign.per_user[&user].last().expect("held > 0");
        let order = &campaign.orders[last];
        return reply(
            StatusCode::OK,
            json!({"outcome": "already_won", "order_id": order.order_id, "amount_cents": order.amount_cents}),
        );
    }
    let amount_cents = if campaign.remaining == 0 {
        campaign.extra_wins_left -= 1; // the injected oversell
        campaign.price_cents.max(1)
    } else {
        let amount = if campaign.kind == "red_packet" {
            if campaign.remaining == 1 {
                campaign.cents_left
            } else {
                campaign.cents_left / campaign.remaining
            }
        } else {
            campaign.price_cents
        };
        campaign.remaining -= 1;
        campaign.cents_left -= amount.min(campaign.cents_left);
        amount
    };
    let order_id = format!("ord{}", campaign.orders.len() + 1);
    campaign
        .per_user
        .entry(user.clone())
        .or_default()
        .push(campaign.orders.len());
    campaign.orders.push(Order {
        user_id: user,
        order_id: order_id.clone(),
        amount_cents,
        state: if campaign.kind == "red_packet" {
            "won"
        } else {
            "pending_payment"
        },
        paid_cents: None,
    });
    reply(
        StatusCode::OK,
        json!({"outcome": "won", "order_id": order_id, "amount_cents": amount_cents}),
    )
}

fn winners(state: &State, id: &str, query: &str) -> Response<Full<Bytes>> {
    let Some(campaign) = state.campaigns.get(id) else {
        return error(StatusCode::NOT_FOUND, "campaign_not_found");
    };
    let parameter = |name: &str| {
        query
            .split('&')
            .filter_map(|pair| pair.split_once('='))
            .find(|(key, _)| *key == name)
            .and_then(|(_, value)| value.parse::<usize>().ok())
    };
    let limit = parameter("limit").unwrap_or(100);
    if limit == 0 || limit > 1000 {
        return error(StatusCode::BAD_REQUEST, "bad_request");
    }
    let after = parameter("after").unwrap_or(0);
    let skip_first = state.config.fault == Fault::DropFirstWinner;
    let listed: Vec<&Order> = campaign
        .orders
        .iter()
        .skip(usize::from(skip_first))
        .collect();
    let page: Vec<Value> = listed
        .iter()
        .skip(after)
        .take(limit)
        .map(|order| {
            json!({
                "user_id": order.user_id,
                "order_id": order.order_id,
                "amount_cents": order.amount_cents,
                "won_at": "2025-01-01T00:00:00Z",
                "state": order.state,
            })
        })
        .collect();
    let end = after + page.len();
    let next = (end < listed.len()).then(|| end.to_string());
    reply(StatusCode::OK, json!({"winners": page, "next": next}))
}
