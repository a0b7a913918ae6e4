//! The OpenAPI document: served at `GET /openapi.json` exactly as committed in
//! `docs/openapi.json` (`UPDATE_OPENAPI=1 cargo test -p stampede-api --test openapi` rewrites
//! the file), every route of `app.rs` in it and nothing else, every error code of the code and
//! of the README in it, money as integer cents.

mod support;

use std::collections::BTreeSet;
use std::path::PathBuf;

use serde_json::Value;
use stampede_api::AppError;
use stampede_api::openapi::{document, document_text, documented_codes, refusals_of};
use support::TestServer;

fn committed_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../docs/openapi.json")
}

#[tokio::test]
async fn the_served_document_is_the_committed_one() {
    let server = TestServer::start().await;
    let response = server.get("/openapi.json").await;
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.headers()["content-type"],
        "application/json",
        "the document is JSON"
    );
    let served = response.text().await.expect("a body");
    assert_eq!(served, document_text(), "served as built");
    let path = committed_path();
    if std::env::var_os("UPDATE_OPENAPI").is_some() {
        std::fs::write(&path, &served).expect("write docs/openapi.json");
        eprintln!("UPDATE_OPENAPI: rewrote {}", path.display());
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == served,
        "docs/openapi.json differs from the document the server serves; regenerate it with \
         `UPDATE_OPENAPI=1 cargo test -p stampede-api --test openapi` and commit it"
    );
    server.shutdown().await;
}

/// `(METHOD, path)` of every route registered in `app.rs`, read from its source: each
/// `.route("<path>", <method>(…)[.<method>(…)])` call. axum's `{*rest}` is OpenAPI's `{rest}`.
fn routes_in_app_rs() -> BTreeSet<(String, String)> {
    let source = include_str!("../src/app.rs");
    let mut routes = BTreeSet::new();
    for call in source.split(".route(").skip(1) {
        let path = call
            .split('"')
            .nth(1)
            .expect("a route's path is a string literal")
            .replace("{*", "{");
        // The call ends at its closing parenthesis, nesting counted.
        let mut depth = 1;
        let end = call
            .char_indices()
            .find_map(|(i, c)| {
                match c {
                    '(' => depth += 1,
                    ')' => depth -= 1,
                    _ => {}
                }
                (depth == 0).then_some(i)
            })
            .expect("a route call closes");
        let handlers = &call[..end];
        for method in ["get", "post", "put", "delete", "patch"] {
            let called = handlers.match_indices(&format!("{method}(")).any(|(i, _)| {
                i == 0
                    || !handlers.as_bytes()[i - 1].is_ascii_alphanumeric()
                        && handlers.as_bytes()[i - 1] != b'_'
            });
            if called {
                routes.insert((method.to_uppercase(), path.clone()));
            }
        }
    }
    routes
}

fn documented_operations(doc: &Value) -> BTreeSet<(String, String)> {
    let mut operations = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for method in item.as_object().expect("a path item").keys() {
            operations.insert((method.to_uppercase(), path.clone()));
        }
    }
    operations
}

#[test]
fn every_route_is_documented_and_nothing_else() {
    let routes = routes_in_app_rs();
    assert!(
        routes.len() >= 20,
        "the app.rs reader found too few routes: {routes:?}"
    );
    assert!(routes.contains(&("POST".into(), "/v1/campaigns/{id}/grab".into())));
    assert!(routes.contains(&("DELETE".into(), "/v1/admin/blocklist/{kind}/{value}".into())));
    let documented = documented_operations(&document());
    let undocumented: Vec<_> = routes.difference(&documented).collect();
    assert!(
        undocumented.is_empty(),
        "routes without a #[utoipa::path] listed in openapi/mod.rs: {undocumented:?}"
    );
    let phantom: Vec<_> = documented.difference(&routes).collect();
    assert!(phantom.is_empty(), "documented but not routed: {phantom:?}");
}

#[test]
fn every_error_code_is_documented() {
    let codes = documented_codes(&document());
    for error in AppError::EVERY {
        assert!(
            codes.iter().any(|c| c == error.code()),
            "{} ({error:?}) is in no documented response",
            error.code()
        );
    }
    // The grab's outcomes: `won`/`already_won` in its 200 body, the rest as refusals.
    let doc = document();
    let outcome = &doc["components"]["schemas"]["GrabJson"]["properties"]["outcome"]["enum"];
    let grab_codes: Vec<&str> = refusals_of("grab")
        .expect("the grab has refusals")
        .into_iter()
        .map(|(_, code)| code)
        .collect();
    for code in stampede_core::GrabOutcome::CODES {
        let in_body = outcome
            .as_array()
            .is_some_and(|a| a.iter().any(|v| v == code));
        assert!(
            in_body || grab_codes.contains(&code),
            "grab outcome {code} is not documented"
        );
    }
    assert_eq!(outcome, &serde_json::json!(["won", "already_won"]));
}

/// The codes of the README's "Error codes:" paragraph.
fn readme_codes() -> BTreeSet<String> {
    let readme = include_str!("../../../README.md");
    let start = readme
        .find("\nError codes:")
        .expect("README has an \"Error codes:\" paragraph");
    let paragraph = &readme[start..];
    let paragraph = &paragraph[..paragraph.find("\n\n").unwrap_or(paragraph.len())];
    // Parenthesised asides name settings and headers, not codes.
    let mut outside = String::new();
    let mut depth = 0;
    for c in paragraph.chars() {
        match c {
            '(' => depth += 1,
            ')' => depth -= 1,
            _ if depth == 0 => outside.push(c),
            _ => {}
        }
    }
    outside
        .split('`')
        .skip(1)
        .step_by(2)
        .filter(|s| s.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'))
        .map(str::to_owned)
        .collect()
}

#[test]
fn the_readme_and_the_document_list_the_same_error_codes() {
    let readme = readme_codes();
    assert!(readme.len() > 20, "README codes read: {readme:?}");
    let documented: BTreeSet<String> = documented_codes(&document()).into_iter().collect();
    let missing: Vec<_> = readme.difference(&documented).collect();
    assert!(
        missing.is_empty(),
        "README error codes in no documented response: {missing:?}"
    );
    let unlisted: Vec<_> = documented.difference(&readme).collect();
    assert!(
        unlisted.is_empty(),
        "documented error codes missing from the README's \"Error codes\": {unlisted:?}"
    );
}

fn walk<'a>(value: &'a Value, at: String, out: &mut Vec<(String, &'a Value)>) {
    match value {
        Value::Object(map) => {
            for (k, v) in map {
                out.push((format!("{at}/{k}"), v));
                walk(v, format!("{at}/{k}"), out);
            }
        }
        Value::Array(items) => {
            for (i, v) in items.iter().enumerate() {
                walk(v, format!("{at}/{i}"), out);
            }
        }
        _ => {}
    }
}

#[test]
fn money_is_integer_cents() {
    let doc = document();
    let mut nodes = Vec::new();
    walk(&doc, String::new(), &mut nodes);
    let mut cents = 0;
    for (at, node) in &nodes {
        let name = at.rsplit('/').next().unwrap_or("");
        if !(name.ends_with("_cents") && at.contains("/properties/")) {
            continue;
        }
        cents += 1;
        let ty = &node["type"];
        let integer =
            ty == "integer" || ty.as_array().is_some_and(|t| t.contains(&"integer".into()));
        assert!(integer, "{at} is not an integer: {node}");
        assert_ne!(
            ty.as_array().map(|t| t.contains(&"number".into())),
            Some(true),
            "{at}"
        );
        assert_eq!(node["format"], "int64", "{at}");
    }
    assert!(cents >= 8, "found only {cents} money fields");
}

#[test]
fn every_operation_is_public_or_names_its_credential() {
    let doc = document();
    let public = [
        "healthz",
        "metrics",
        "openapi_document",
        "show_campaign",
        "payment_callback",
        "dashboard_page",
        "dashboard_script",
        "dashboard_style",
    ];
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for (method, operation) in item.as_object().expect("a path item") {
            let id = operation["operationId"].as_str().expect("an operation id");
            let secured = operation
                .get("security")
                .and_then(Value::as_array)
                .is_some_and(|s| !s.is_empty());
            assert_eq!(
                secured,
                !public.contains(&id),
                "{method} {path} ({id}): security {:?}",
                operation.get("security")
            );
            if secured {
                let responses = &operation["responses"];
                assert!(
                    responses.get("401").is_some(),
                    "{method} {path} answers 401 without credentials"
                );
            }
        }
    }
}
