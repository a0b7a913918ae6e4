//! Garbage in, well-formed errors out: a bounded, seeded loop of hostile requests must never
//! produce a 500 or a non-JSON error, and the server must serve a normal grab afterwards.

mod support;

use rand::rngs::StdRng;
use rand::seq::IndexedRandom;
use rand::{Rng, SeedableRng};
use reqwest::header::HeaderValue;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use support::{TestServer, assert_error_shape, read_json};

/// Requests in the garbage loop: enough to cover every generator branch many times, few
/// enough to finish in about a second.
const GARBAGE_REQUESTS: usize = 300;
/// Fixed seed so a failure reproduces; change it to explore.
const SEED: u64 = 0x5EED_F00D_57A3;

fn random_bytes(rng: &mut StdRng, max_len: usize) -> Vec<u8> {
    let len = rng.random_range(0..=max_len);
    (0..len).map(|_| rng.random()).collect()
}

/// Bytes a header value may carry (visible ASCII, space, tab, obs-text), randomly.
fn random_header_value(rng: &mut StdRng) -> HeaderValue {
    let len = rng.random_range(0..200);
    let bytes: Vec<u8> = (0..len)
        .map(|_| {
            loop {
                let b: u8 = rng.random();
                if b == b'\t' || (b' '..=b'~').contains(&b) || b >= 0x80 {
                    break b;
                }
            }
        })
        .collect();
    HeaderValue::from_bytes(&bytes).expect("only allowed header bytes")
}

/// A path segment: sometimes a plausible id, sometimes junk (percent-encoded so it is valid).
fn random_segment(rng: &mut StdRng, campaign: &str, order: &str) -> String {
    match rng.random_range(0..8) {
        0 => campaign.to_owned(),
        1 => order.to_owned(),
        2 => support::unknown_id("c_"),
        3 => format!("c_{}", "f".repeat(rng.random_range(0..40))),
        4 => "..".to_owned(),
        5 => "%00%FF%2F".to_owned(),
        6 => "x".repeat(rng.random_range(0..3000)),
        _ => random_bytes(rng, 12)
            .iter()
            .map(|b| format!("%{b:02X}"))
            .collect(),
    }
}

/// A request target: method, path, and whether its route wants the admin key.
type Target = (Method, String, bool);

/// A route the server knows, with the method it serves there.
fn known_route(rng: &mut StdRng, campaign: &str, order: &str) -> Target {
    let routes = [
        (Method::POST, "/v1/campaigns".to_owned(), true),
        (Method::GET, format!("/v1/campaigns/{campaign}"), false),
        (
            Method::POST,
            format!("/v1/campaigns/{campaign}/grab"),
            false,
        ),
        (
            Method::GET,
            format!("/v1/campaigns/{campaign}/winners"),
            true,
        ),
        (Method::GET, format!("/v1/orders/{order}"), false),
        (Method::GET, "/healthz".to_owned(), false),
    ];
    routes.choose(rng).expect("non-empty").clone()
}

/// Mostly known routes with their own method (so requests reach the extractors and
/// handlers), some with a wrong method, some random paths under `/v1`.
fn random_target(rng: &mut StdRng, campaign: &str, order: &str) -> Target {
    let roll = rng.random_range(0..100);
    if roll < 70 {
        return known_route(rng, campaign, order);
    }
    if roll < 85 {
        let (_, path, admin) = known_route(rng, campaign, order);
        return (random_method(rng), path, admin);
    }
    let mut path = "/v1".to_owned();
    for _ in 0..rng.random_range(0..5) {
        path.push('/');
        path.push_str(&random_segment(rng, campaign, order));
    }
    (random_method(rng), path, false)
}

fn random_query(rng: &mut StdRng) -> String {
    let queries = [
        String::new(),
        "?limit=0".into(),
        "?limit=99999999999999999999999".into(),
        "?after=%FF%FE&limit=-3".into(),
        "?after=18446744073709551616".into(),
        "?after=99999999&limit=1000".into(),
        "?limit".into(),
        "?=&&=&".into(),
        "?a=1&a=2&a=3".into(),
        format!("?after={}", "9".repeat(5000)),
        format!("?{}", "x=y&".repeat(500)),
    ];
    queries.choose(rng).expect("non-empty").clone()
}

fn random_body(rng: &mut StdRng) -> Vec<u8> {
    let samples: [&[u8]; 8] = [
        br#"{"kind":"seckill","name":"x","stock":1e400,"price_cents":1}"#,
        br#"{"kind":"red_packet","name":"x","total_cents":18446744073709551615,"count":1000000,"min_cents":18446744073709551615}"#,
        br#"{"kind":"seckill","name":"\u0000","stock":1,"price_cents":1}"#,
        br#"{"kind":"seckill","name":"x","stock":1,"price_cents":1,"starts_at":"9999-99-99T99:99:99Z"}"#,
        br#"{"kind":"seckill","name":"x","stock":1,"price_cents":1,"starts_at":"1969-12-31T23:59:59Z"}"#,
        br#"{"kind":"seckill","kind":"red_packet"}"#,
        b"[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[",
        b"\xEF\xBB\xBF{}",
    ];
    match rng.random_range(0..4) {
        0 => samples.choose(rng).expect("non-empty").to_vec(),
        1 => random_bytes(rng, 256),
        2 => random_campaign_json(rng),
        _ => {
            // A deep nest: serde_json's recursion limit must answer 400, not crash.
            let depth = rng.random_range(100..2000);
            let mut body = "[".repeat(depth).into_bytes();
            body.extend("]".repeat(depth).into_bytes());
            body
        }
    }
}

/// A JSON value of a random type, often an edge of some range.
fn random_value(rng: &mut StdRng) -> Value {
    match rng.random_range(0..10) {
        0 => Value::Null,
        1 => json!(rng.random::<bool>()),
        2 => json!(rng.random::<u64>()),
        3 => json!(rng.random::<i64>()),
        4 => json!(rng.random::<f64>() * 1e6),
        5 => json!(u64::MAX),
        6 => json!(rng.random_range(0..5)),
        7 => json!("2026-01-01T00:00:00Z"),
        8 => json!([1, "2", null]),
        _ => json!(String::from_utf8_lossy(&random_bytes(rng, 40))),
    }
}

/// A campaign-shaped object whose fields have random values and sometimes random names.
fn random_campaign_json(rng: &mut StdRng) -> Vec<u8> {
    let fields = [
        "kind",
        "name",
        "stock",
        "per_user_limit",
        "price_cents",
        "payment_window_secs",
        "starts_at",
        "ends_at",
        "total_cents",
        "count",
        "min_cents",
        "surprise",
    ];
    let mut object = serde_json::Map::new();
    object.insert(
        "kind".into(),
        json!(
            ["seckill", "red_packet", "other"]
                .choose(rng)
                .expect("non-empty")
        ),
    );
    object.insert("name".into(), json!("fuzz"));
    for _ in 0..rng.random_range(0..6) {
        let field = fields.choose(rng).expect("non-empty");
        object.insert((*field).into(), random_value(rng));
    }
    serde_json::to_vec(&object).expect("serialises")
}

fn random_method(rng: &mut StdRng) -> Method {
    [
        Method::GET,
        Method::POST,
        Method::PUT,
        Method::DELETE,
        Method::PATCH,
        Method::OPTIONS,
    ]
    .choose(rng)
    .expect("non-empty")
    .clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn garbage_requests_get_json_errors_and_never_500() {
    let server = TestServer::start_with(|c| {
        // Garbage should meet the parsers and handlers, not the rate limiter.
        c.grab_rate_per_second = 1_000_000;
        c.grab_rate_burst = 1_000_000;
    })
    .await;
    let campaign = server.create_seckill(1_000).await;
    let (order, _) = server.win(&campaign, "seed-user").await;
    let mut rng = StdRng::seed_from_u64(SEED);
    let user_credentials = [
        server.token("fuzzer-0"),
        server.token("fuzzer-1"),
        server.token("fuzzer-2"),
        server.token("seed-user"),
    ];
    let broken_credentials = [
        "Bearer ".to_owned(),
        "Bearer v1.a.1.".to_owned(),
        format!("Bearer v1.{}.9.{}", "é".repeat(40), "0".repeat(64)),
        format!("Bearer v1.a.{}.{}", "9".repeat(21), "0".repeat(64)),
        format!("bearer {}", support::ADMIN_KEY),
    ];

    for i in 0..GARBAGE_REQUESTS {
        let (method, path, wants_admin) = random_target(&mut rng, &campaign, &order);
        let path = format!("{path}{}", random_query(&mut rng));
        let mut request = server.request(method.clone(), &path);
        let credential = match rng.random_range(0..10) {
            0 => None,
            1..=5 if wants_admin => Some(server.admin()),
            1..=5 => user_credentials.choose(&mut rng).cloned(),
            6..=7 => broken_credentials.choose(&mut rng).cloned(),
            _ => None,
        };
        match credential {
            Some(value) => request = request.header("authorization", value),
            None if rng.random_bool(0.5) => {
                request = request.header("authorization", random_header_value(&mut rng));
            }
            None => {}
        }
        match rng.random_range(0..4) {
            0 => {}
            1 => request = request.header("idempotency-key", random_header_value(&mut rng)),
            _ => {
                request = request.header("idempotency-key", format!("k{}", rng.random_range(0..8)))
            }
        }
        if rng.random_bool(0.3) {
            request = request.header("content-type", random_header_value(&mut rng));
        } else if rng.random_bool(0.8) {
            request = request.header("content-type", "application/json");
        }
        if method != Method::GET && rng.random_bool(0.8) {
            request = request.body(random_body(&mut rng));
        }
        let response = request.send().await.unwrap_or_else(|e| {
            panic!("request {i} (seed {SEED:#x}) {method} {path}: transport error {e}")
        });
        let status = response.status();
        let bytes = response.bytes().await.expect("body read");
        assert!(
            !status.is_server_error(),
            "request {i} (seed {SEED:#x}) {method} {path}: {status} {:?}",
            String::from_utf8_lossy(&bytes)
        );
        if !status.is_success() {
            let json: Value = serde_json::from_slice(&bytes).unwrap_or_else(|e| {
                panic!(
                    "request {i} (seed {SEED:#x}) {method} {path}: {status} body not JSON ({e}): {:?}",
                    String::from_utf8_lossy(&bytes)
                )
            });
            assert_error_shape(&json);
        }
    }

    // Still healthy, and a normal grab is decided correctly.
    let (status, health) = read_json(server.get("/healthz").await).await;
    assert_eq!(status, StatusCode::OK, "{health}");
    let remaining = server.campaign(&campaign).await["remaining"]
        .as_u64()
        .unwrap();
    let (fresh_order, amount) = server.win(&campaign, "after-the-storm").await;
    assert_ne!(fresh_order, order);
    assert_eq!(amount, 1999);
    assert_eq!(
        server.campaign(&campaign).await["remaining"].as_u64(),
        Some(remaining - 1)
    );
    server.shutdown().await;
}
