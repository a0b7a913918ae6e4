//! Shared helpers for the HTTP integration tests: a real server on a random local port, driven
//! through `stampede_server::serve_on`, plus request and assertion helpers.
//!
//! A server decides on the machine's clock unless started with [`TestServer::start_manual`]:
//! then every limiter, ban, token and idempotency window reads a [`ManualClock`] that only the
//! test moves ([`TestServer::advance`]), so "after the window" is a step, not a sleep. Its
//! background tasks (upkeep, config watcher) still tick on tokio's real clock: a test waits for
//! them with [`eventually`] or [`TestServer::wait_until`], which poll against a deadline.
//!
//! Each test binary uses a subset of these helpers, hence the `dead_code` allowance.
//!
//! Over 400 lines on purpose: the one harness every API test binary shares (a server on either
//! clock, restart, requests, assertions); split, each binary would list several modules.
#![allow(dead_code)]

use std::sync::Arc;
use std::time::Duration;

use reqwest::{Client, Method, Response, StatusCode};
use serde_json::{Value, json};
use stampede_api::AppState;
use stampede_clock::{ManualClock, SharedClock};
use stampede_engine::{Clock, SystemClock};
use stampede_server::Config;
use tempfile::TempDir;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// Token secret every test server signs user tokens with.
pub(crate) const TOKEN_SECRET: &str = "test-token-secret-0123456789abcdef";
/// Admin key every test server accepts.
pub(crate) const ADMIN_KEY: &str = "admin-key-0123456789abcdef";
/// How long helpers wait for a condition the server reaches asynchronously: generous for a
/// loaded machine; polls end as soon as the condition holds.
pub(crate) const SETTLE_LIMIT: Duration = Duration::from_secs(5);
/// Pause between two looks at a condition being waited for.
const POLL_EVERY: Duration = Duration::from_millis(10);

/// A running server on `127.0.0.1:<random port>` with its own data directory.
pub(crate) struct TestServer {
    /// `http://127.0.0.1:<port>`.
    pub base: String,
    /// A client for this server (keep-alive connections are closed at shutdown).
    pub client: Client,
    /// The config it runs with.
    pub config: Config,
    /// The server's state, for waiting on internal counters (e.g. requests in flight).
    pub state: Arc<AppState>,
    /// The clock the server decides on (kept across a restart).
    clock: SharedClock,
    /// The same clock, when the test moves it ([`TestServer::start_manual`]).
    manual: Option<ManualClock>,
    dir: TempDir,
    shutdown: oneshot::Sender<()>,
    task: JoinHandle<anyhow::Result<()>>,
}

impl TestServer {
    /// The simulated channel `sim` every test server runs.
    pub(crate) fn sim(&self) -> Arc<stampede_money::SimChannel> {
        let name = stampede_core::ChannelName::parse("sim").expect("a valid channel name");
        Arc::clone(
            self.state
                .shards
                .home()
                .payments
                .desk()
                .sim(&name)
                .expect("the sim channel"),
        )
    }

    /// Starts a server with the test defaults.
    pub(crate) async fn start() -> TestServer {
        Self::start_with(|_| {}).await
    }

    /// Starts a server with the test defaults adjusted by `tweak`.
    pub(crate) async fn start_with(tweak: impl FnOnce(&mut Config)) -> TestServer {
        Self::start_on(tweak, None).await
    }

    /// Starts a server with the test defaults adjusted by `tweak`, deciding on a
    /// [`ManualClock`] that shows the machine's time now and then moves only through
    /// [`TestServer::advance`].
    pub(crate) async fn start_manual(tweak: impl FnOnce(&mut Config)) -> TestServer {
        let clock = ManualClock::new(SystemClock::new().now());
        Self::start_on(tweak, Some(clock)).await
    }

    async fn start_on(tweak: impl FnOnce(&mut Config), manual: Option<ManualClock>) -> TestServer {
        let dir = tempfile::tempdir().expect("temporary data directory");
        let mut config = Config {
            data_dir: dir.path().to_path_buf(),
            token_secret: TOKEN_SECRET.into(),
            admin_key: ADMIN_KEY.into(),
            log: "warn".into(),
            // Tests post callbacks themselves; the simulated customer pays only when asked.
            channels: vec![stampede_money::SimChannelConfig {
                auto_pay: false,
                ..Default::default()
            }],
            ..Config::default()
        };
        tweak(&mut config);
        config.validate().expect("test config is valid");
        let clock: SharedClock = match &manual {
            Some(manual) => Arc::new(manual.clone()),
            None => Arc::new(SystemClock::new()),
        };
        Self::launch(dir, config, clock, manual).await
    }

    async fn launch(
        dir: TempDir,
        config: Config,
        clock: SharedClock,
        manual: Option<ManualClock>,
    ) -> TestServer {
        let state = stampede_server::build(&config, Arc::clone(&clock)).expect("engine opens");
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind a local port");
        let addr = listener.local_addr().expect("bound address");
        let (shutdown, stop) = oneshot::channel::<()>();
        let served_state = Arc::clone(&state);
        let served_config = config.clone();
        let task = tokio::spawn(async move {
            stampede_server::serve_on(listener, served_state, &served_config, async {
                let _ = stop.await;
            })
            .await
        });
        TestServer {
            base: format!("http://{addr}"),
            client: Client::new(),
            config,
            state,
            clock,
            manual,
            dir,
            shutdown,
            task,
        }
    }

    /// Moves the server's clock forward by `by`: every window, ban and expiry it decides on.
    ///
    /// # Panics
    /// If the server was not started with [`TestServer::start_manual`].
    pub(crate) fn advance(&self, by: Duration) {
        self.manual
            .as_ref()
            .expect("TestServer::advance needs a server started with start_manual")
            .advance(by);
    }

    /// Stops the server (graceful shutdown, engine stopped) and returns its data directory.
    pub(crate) async fn shutdown(self) -> (TempDir, Config) {
        let (dir, config, _, _) = self.stop().await;
        (dir, config)
    }

    async fn stop(self) -> (TempDir, Config, SharedClock, Option<ManualClock>) {
        let TestServer {
            client,
            state,
            dir,
            shutdown,
            task,
            config,
            clock,
            manual,
            ..
        } = self;
        drop(client);
        drop(state);
        let _ = shutdown.send(());
        task.await
            .expect("server task did not panic")
            .expect("server stopped cleanly");
        (dir, config, clock, manual)
    }

    /// Stops the server and starts a new one on the same data directory, config and clock.
    pub(crate) async fn restart(self) -> TestServer {
        let (dir, config, clock, manual) = self.stop().await;
        Self::launch(dir, config, clock, manual).await
    }

    /// RFC 3339 of the server's now + `offset_secs` (whole seconds, so up to a second earlier).
    pub(crate) fn rfc3339_from_now(&self, offset_secs: i64) -> String {
        rfc3339_from(self.state.now_unix_secs(), offset_secs)
    }

    /// `base` + `path`.
    pub(crate) fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// `Authorization` value of the admin.
    pub(crate) fn admin(&self) -> String {
        format!("Bearer {ADMIN_KEY}")
    }

    /// `Authorization` value of `user`, valid for an hour on the server's clock.
    pub(crate) fn token(&self, user: &str) -> String {
        bearer(&user_token(
            TOKEN_SECRET,
            user,
            self.state.now_unix_secs() + 3600,
        ))
    }

    /// `Authorization` value of `user`'s shadow token (a rehearsal's), valid for an hour.
    pub(crate) fn shadow_token(&self, user: &str) -> String {
        bearer(&stampede_api::auth::mint_shadow_token(
            TOKEN_SECRET.as_bytes(),
            user,
            self.state.now_unix_secs() + 3600,
        ))
    }

    /// A request builder for `method path`.
    pub(crate) fn request(&self, method: Method, path: &str) -> reqwest::RequestBuilder {
        self.client.request(method, self.url(path))
    }

    /// `GET path` with no credentials.
    pub(crate) async fn get(&self, path: &str) -> Response {
        self.request(Method::GET, path)
            .send()
            .await
            .expect("request sent")
    }

    /// `GET path` as the admin.
    pub(crate) async fn get_as_admin(&self, path: &str) -> Response {
        self.request(Method::GET, path)
            .header("authorization", self.admin())
            .send()
            .await
            .expect("request sent")
    }

    /// `GET path` as `user`.
    pub(crate) async fn get_as(&self, user: &str, path: &str) -> Response {
        self.request(Method::GET, path)
            .header("authorization", self.token(user))
            .send()
            .await
            .expect("request sent")
    }

    /// `POST /v1/campaigns` as the admin with `body`; returns the raw response.
    pub(crate) async fn post_campaign(&self, body: &Value) -> Response {
        self.request(Method::POST, "/v1/campaigns")
            .header("authorization", self.admin())
            .json(body)
            .send()
            .await
            .expect("request sent")
    }

    /// Creates a campaign that must succeed; returns its JSON.
    pub(crate) async fn create_campaign(&self, body: &Value) -> Value {
        let response = self.post_campaign(body).await;
        let (status, json) = read_json(response).await;
        assert_eq!(status, StatusCode::CREATED, "create {body}: {json}");
        json
    }

    /// Creates an active seckill campaign of `stock` items (price 1999, limit 1); returns its id.
    pub(crate) async fn create_seckill(&self, stock: u64) -> String {
        self.create_seckill_with(json!({ "stock": stock })).await
    }

    /// Creates a seckill campaign; `fields` are merged over the defaults (name, price 1999).
    pub(crate) async fn create_seckill_with(&self, fields: Value) -> String {
        let mut body = json!({ "kind": "seckill", "name": "test sale", "price_cents": 1999 });
        merge(&mut body, fields);
        id_of(&self.create_campaign(&body).await)
    }

    /// Creates an active red-packet campaign; returns its id.
    pub(crate) async fn create_red_packet(
        &self,
        total_cents: u64,
        count: u64,
        min_cents: u64,
    ) -> String {
        let body = json!({
            "kind": "red_packet",
            "name": "test packets",
            "total_cents": total_cents,
            "count": count,
            "min_cents": min_cents,
        });
        id_of(&self.create_campaign(&body).await)
    }

    /// `POST /v1/campaigns/{campaign}/grab` as `user`.
    pub(crate) async fn grab(&self, campaign: &str, user: &str) -> Response {
        self.grab_with(campaign, Some(&self.token(user)), None)
            .await
    }

    /// A grab with an explicit `Authorization` value and optional `Idempotency-Key`.
    pub(crate) async fn grab_with(
        &self,
        campaign: &str,
        authorization: Option<&str>,
        idempotency_key: Option<&str>,
    ) -> Response {
        let mut request = self.request(Method::POST, &format!("/v1/campaigns/{campaign}/grab"));
        if let Some(value) = authorization {
            request = request.header("authorization", value);
        }
        if let Some(key) = idempotency_key {
            request = request.header("idempotency-key", key);
        }
        request.send().await.expect("request sent")
    }

    /// A grab that must be won; returns `(order_id, amount_cents)`.
    pub(crate) async fn win(&self, campaign: &str, user: &str) -> (String, u64) {
        let (status, json) = read_json(self.grab(campaign, user).await).await;
        assert_eq!(status, StatusCode::OK, "grab by {user}: {json}");
        assert_eq!(json["outcome"], "won", "grab by {user}: {json}");
        let order_id = json["order_id"].as_str().expect("order_id").to_owned();
        assert!(is_id(&order_id, "o_"), "{order_id}");
        (order_id, json["amount_cents"].as_u64().expect("amount"))
    }

    /// `GET /v1/campaigns/{campaign}` that must succeed.
    pub(crate) async fn campaign(&self, campaign: &str) -> Value {
        let (status, json) = read_json(self.get(&format!("/v1/campaigns/{campaign}")).await).await;
        assert_eq!(status, StatusCode::OK, "{json}");
        json
    }

    /// Every winner of `campaign`, paging with `limit`; returns the pages' sizes and entries.
    pub(crate) async fn all_winners(
        &self,
        campaign: &str,
        limit: usize,
    ) -> (Vec<usize>, Vec<Value>) {
        let mut sizes = Vec::new();
        let mut winners = Vec::new();
        let mut after: Option<String> = None;
        for _ in 0..10_000 {
            let mut path = format!("/v1/campaigns/{campaign}/winners?limit={limit}");
            if let Some(cursor) = &after {
                path.push_str(&format!("&after={cursor}"));
            }
            let (status, json) = read_json(self.get_as_admin(&path).await).await;
            assert_eq!(status, StatusCode::OK, "{path}: {json}");
            let page = json["winners"].as_array().expect("winners array").clone();
            sizes.push(page.len());
            winners.extend(page);
            match &json["next"] {
                Value::Null => return (sizes, winners),
                Value::String(next) => after = Some(next.clone()),
                other => panic!("next must be a string or null, got {other}"),
            }
        }
        panic!("winners paging did not end");
    }

    /// Waits (bounded) until `condition` holds on the server state.
    pub(crate) async fn wait_until(&self, what: &str, condition: impl Fn(&AppState) -> bool) {
        eventually(what, || async { condition(&self.state) }).await;
    }
}

/// Polls `probe` until it answers true; fails the test after [`SETTLE_LIMIT`]. For effects the
/// server reaches by itself (a reload, an upkeep pass, a freed connection), never in place of
/// moving a [`ManualClock`].
pub(crate) async fn eventually<F, Fut>(what: &str, probe: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    eventually_within(what, SETTLE_LIMIT, probe).await;
}

/// [`eventually`] with a limit of its own (a condition that takes thousands of connections
/// to reach).
pub(crate) async fn eventually_within<F, Fut>(what: &str, limit: Duration, mut probe: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + limit;
    while !probe().await {
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out after {limit:?} waiting for {what}"
        );
        tokio::time::sleep(POLL_EVERY).await;
    }
}

/// Unix seconds now, from the clock the server reads.
pub(crate) fn unix_now() -> u64 {
    SystemClock::new().now().0 / 1000
}

/// RFC 3339 of now + `offset_secs` (negative: in the past).
pub(crate) fn rfc3339_from_now(offset_secs: i64) -> String {
    rfc3339_from(unix_now(), offset_secs)
}

/// RFC 3339 of `unix_secs` + `offset_secs`.
fn rfc3339_from(unix_secs: u64, offset_secs: i64) -> String {
    let now = i64::try_from(unix_secs).expect("seconds fit in i64");
    OffsetDateTime::from_unix_timestamp(now + offset_secs)
        .expect("in range")
        .format(&Rfc3339)
        .expect("formats")
}

/// A user token signed with `secret`.
pub(crate) fn user_token(secret: &str, user: &str, expires_unix: u64) -> String {
    stampede_api::mint_token(secret.as_bytes(), user, expires_unix)
}

/// `Bearer <credential>`.
pub(crate) fn bearer(credential: &str) -> String {
    format!("Bearer {credential}")
}

/// Status and JSON body of a response (panics if the body is not JSON).
pub(crate) async fn read_json(response: Response) -> (StatusCode, Value) {
    let status = response.status();
    let bytes = response.bytes().await.expect("body read");
    let json = serde_json::from_slice(&bytes).unwrap_or_else(|e| {
        panic!(
            "{status}: body is not JSON ({e}): {:?}",
            String::from_utf8_lossy(&bytes)
        )
    });
    (status, json)
}

/// Asserts an error answer: `status`, `{"error":{"code","message"}}` with exactly these keys,
/// `code`, and a JSON content type. Returns the message.
pub(crate) async fn expect_error(response: Response, status: StatusCode, code: &str) -> String {
    let content_type = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    let (got, json) = read_json(response).await;
    assert_eq!(got, status, "expected {status} {code}, got {got}: {json}");
    assert!(
        content_type.starts_with("application/json"),
        "content-type {content_type:?} for {json}"
    );
    assert_error_shape(&json);
    assert_eq!(json["error"]["code"], code, "{json}");
    json["error"]["message"].as_str().unwrap_or("").to_owned()
}

/// Asserts `response` is 429 `rate_limited`.
pub(crate) async fn expect_rate_limited(response: Response) {
    expect_error(response, StatusCode::TOO_MANY_REQUESTS, "rate_limited").await;
}

/// The whole-seconds `Retry-After` of `response`, asserted to be 1 or 2 (what a limit of one
/// a second answers).
pub(crate) fn retry_after_secs(response: &Response) -> u64 {
    let retry_after: u64 = response
        .headers()
        .get("retry-after")
        .expect("Retry-After header")
        .to_str()
        .unwrap()
        .parse()
        .expect("Retry-After is whole seconds");
    assert!((1..=2).contains(&retry_after), "Retry-After {retry_after}");
    retry_after
}

/// Asserts `json` is `{"error":{"code":<string>,"message":<string>}}` and nothing else.
pub(crate) fn assert_error_shape(json: &Value) {
    let outer = json.as_object().expect("error body is an object");
    assert_eq!(outer.len(), 1, "only `error` at top level: {json}");
    let inner = json["error"].as_object().expect("`error` is an object");
    assert_eq!(inner.len(), 2, "error has code and message only: {json}");
    assert!(inner["code"].is_string(), "{json}");
    assert!(inner["message"].is_string(), "{json}");
}

/// Whether `s` is `prefix` followed by 32 lowercase hex digits.
pub(crate) fn is_id(s: &str, prefix: &str) -> bool {
    s.strip_prefix(prefix).is_some_and(|hex| {
        hex.len() == 32
            && hex
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    })
}

/// Whether `s` parses as RFC 3339.
pub(crate) fn is_rfc3339(s: &str) -> bool {
    OffsetDateTime::parse(s, &Rfc3339).is_ok()
}

/// The `id` of a campaign JSON.
pub(crate) fn id_of(campaign: &Value) -> String {
    campaign["id"].as_str().expect("campaign id").to_owned()
}

/// A well-formed id that names nothing.
pub(crate) fn unknown_id(prefix: &str) -> String {
    format!("{prefix}{}", "0123456789abcdef".repeat(2))
}

fn merge(body: &mut Value, fields: Value) {
    if let (Some(target), Value::Object(extra)) = (body.as_object_mut(), fields) {
        target.extend(extra);
    }
}

/// Reads `stream` until the server closes it, at most `within`; the bytes as text. Panics on
/// a reset (the answer would have been lost) or when the server keeps the connection open.
pub(crate) async fn read_to_close(stream: &mut tokio::net::TcpStream, within: Duration) -> String {
    use tokio::io::AsyncReadExt;
    let mut answer = Vec::new();
    tokio::time::timeout(within, stream.read_to_end(&mut answer))
        .await
        .expect("answered and closed in time, not left hanging")
        .expect("the answer is read, not reset");
    String::from_utf8_lossy(&answer).into_owned()
}

/// Asserts a raw HTTP/1.1 answer is `status` with `Connection: close` and a JSON error `code`.
pub(crate) fn assert_closing_error(answer: &str, status: u16, code: &str) {
    assert!(
        answer.starts_with(&format!("HTTP/1.1 {status} ")),
        "{answer:?}"
    );
    let head = answer.split("\r\n\r\n").next().unwrap_or_default();
    assert!(
        head.to_ascii_lowercase().contains("\r\nconnection: close"),
        "{answer:?}"
    );
    let body = answer.split("\r\n\r\n").nth(1).unwrap_or_default();
    let json: Value = serde_json::from_str(body).expect("a JSON error body");
    assert_error_shape(&json);
    assert_eq!(json["error"]["code"], code, "{json}");
}
