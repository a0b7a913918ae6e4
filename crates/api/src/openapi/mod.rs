//! The OpenAPI 3.1 document of the HTTP API, generated from the code: the handlers'
//! `#[utoipa::path]` attributes and the wire types' `ToSchema` give the paths and schemas;
//! [`refusals`] adds every error each operation can answer, grouped by status, with its
//! stable codes taken from [`AppError`] itself. Served at `GET /openapi.json` and committed
//! as `docs/openapi.json` (a test compares them: `UPDATE_OPENAPI=1 cargo test -p
//! stampede-api --test openapi` rewrites the file).

mod refusals;

use std::sync::LazyLock;

use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};
use utoipa::OpenApi;

use crate::error::AppError;

use crate::handlers::{
    admin, campaigns, cluster, dashboard, grab, money_admin, ops, orders, payments, shadow,
};

pub use refusals::{CONNECTION_REFUSAL_CODE, refusals_of};

/// The paths and schemas utoipa collects; [`document`] completes them.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "Stampede",
        description = "A flash-sale and red-packet engine. Every error answers `{\"error\":{\"code\",\"message\"}}` (the `ErrorBody` schema) with a stable code; each response lists the codes it can carry. Money is integer cents.",
    ),
    paths(
        campaigns::create,
        campaigns::show,
        campaigns::winners,
        grab::grab,
        orders::show,
        orders::cancel,
        orders::claim,
        payments::pay,
        payments::callback,
        ops::healthz,
        ops::metrics,
        admin::get_rules,
        admin::put_rules,
        admin::list_entries,
        admin::add_entry,
        admin::remove_entry,
        admin::list_switches,
        admin::set_switch,
        money_admin::channels,
        money_admin::last_reconciliation,
        money_admin::run_reconciliation,
        cluster::cluster,
        dashboard::stats,
        dashboard::page,
        dashboard::script,
        dashboard::style,
        shadow::show,
        shadow::winners,
        shadow::reset,
        openapi_json,
    ),
    components(schemas(crate::error::ErrorJson))
)]
struct ApiDoc;

/// The document, pretty-printed, built once.
static DOCUMENT: LazyLock<String> = LazyLock::new(|| {
    let mut text =
        serde_json::to_string_pretty(&document()).expect("the OpenAPI document serialises");
    text.push('\n');
    text
});

/// The document as served and committed (pretty JSON, one trailing newline).
pub fn document_text() -> &'static str {
    &DOCUMENT
}

/// Builds the document: utoipa's paths and schemas, the security schemes, and every
/// operation's refusals.
///
/// # Panics
/// If an operation has no entry in [`refusals_of`] (a test builds the document, so a new
/// route cannot ship without deciding what it refuses).
pub fn document() -> Value {
    let mut doc = serde_json::to_value(ApiDoc::openapi()).expect("utoipa's document serialises");
    add_security_schemes(&mut doc);
    add_fallback_responses(&mut doc);
    let operations = doc["paths"]
        .as_object_mut()
        .expect("the document has paths");
    for item in operations.values_mut() {
        for operation in item.as_object_mut().expect("a path item").values_mut() {
            let id = operation["operationId"]
                .as_str()
                .expect("every operation has an operation_id")
                .to_owned();
            let refusals = refusals_of(&id)
                .unwrap_or_else(|| panic!("operation {id} has no refusals in openapi/refusals.rs"));
            add_refusals(operation, &refusals);
        }
    }
    narrow_grab_outcome(&mut doc);
    doc
}

fn add_security_schemes(doc: &mut Value) {
    let schemes = json!({
        "user_token": {
            "type": "http",
            "scheme": "bearer",
            "description": "A user token, `v1.<user_id>.<expires_unix>.<hex HMAC-SHA256>`, as `stampede token --user U` prints it."
        },
        "admin_key": {
            "type": "http",
            "scheme": "bearer",
            "description": "The admin key (`STAMPEDE_ADMIN_KEY`, `admin_key`, or `<data-dir>/admin_key`)."
        }
    });
    let components = doc["components"]
        .as_object_mut()
        .expect("the document has components");
    components.insert("securitySchemes".into(), schemes);
}

/// Adds one response per status the operation can refuse with, its `code` narrowed to the
/// codes of that status. A status the operation already documents (the health check's 503)
/// accepts either body.
fn add_refusals(operation: &mut Value, refusals: &[(u16, &'static str)]) {
    let mut by_status: std::collections::BTreeMap<u16, Vec<&str>> = Default::default();
    for &(status, code) in refusals {
        let codes = by_status.entry(status).or_default();
        if !codes.contains(&code) {
            codes.push(code);
        }
    }
    let responses = operation["responses"]
        .as_object_mut()
        .expect("an operation has responses");
    for (status, mut codes) in by_status {
        codes.sort_unstable();
        let key = status.to_string();
        match responses.get_mut(&key) {
            Some(existing) => {
                let content = &mut existing["content"]["application/json"]["schema"];
                let other = content.take();
                *content = json!({ "anyOf": [other, error_schema(&codes)] });
                let description = existing["description"].as_str().unwrap_or("").to_owned();
                existing["description"] =
                    Value::String(format!("{description}; or {}", listed(&codes)));
            }
            None => {
                responses.insert(key, error_response(status, &codes));
            }
        }
    }
}

/// `ErrorBody` with `code` narrowed to `codes`.
fn error_schema(codes: &[&str]) -> Value {
    json!({
        "allOf": [
            { "$ref": "#/components/schemas/ErrorBody" },
            { "type": "object", "properties": { "error": { "type": "object", "properties": {
                "code": { "type": "string", "enum": codes }
            } } } }
        ]
    })
}

fn listed(codes: &[&str]) -> String {
    codes
        .iter()
        .map(|c| format!("`{c}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// An error response carrying one of `codes`.
fn error_response(status: u16, codes: &[&str]) -> Value {
    let mut response = Map::new();
    response.insert("description".into(), Value::String(listed(codes)));
    if status == 429 || status == 503 {
        response.insert(
            "headers".into(),
            json!({ "Retry-After": {
                "description": "Seconds to wait before retrying (`rate_limited`, `queue_timeout`, `degraded`, `channel_unavailable`)",
                "schema": { "type": "integer", "format": "int64", "minimum": 0 }
            } }),
        );
    }
    response.insert(
        "content".into(),
        json!({ "application/json": { "schema": error_schema(codes) } }),
    );
    Value::Object(response)
}

/// The answers of no operation: a path no route matches, a known path with another method.
fn add_fallback_responses(doc: &mut Value) {
    let not_found = AppError::NotFound("not_found", "");
    let mut unmatched = error_response(not_found.status().as_u16(), &[not_found.code()]);
    unmatched["description"] = Value::String(format!(
        "Any path no route matches: {}",
        unmatched["description"].as_str().unwrap_or("")
    ));
    let wrong = AppError::MethodNotAllowed;
    let mut method = error_response(wrong.status().as_u16(), &[wrong.code()]);
    method["description"] = Value::String(format!(
        "A known path with a method it does not take: {}",
        method["description"].as_str().unwrap_or("")
    ));
    let components = doc["components"]
        .as_object_mut()
        .expect("the document has components");
    components.insert(
        "responses".into(),
        json!({ "UnknownPath": unmatched, "MethodNotAllowed": method }),
    );
}

/// A grab's `outcome` is one of the engine's outcome codes that is not answered as an error.
fn narrow_grab_outcome(doc: &mut Value) {
    let refused: Vec<&str> = refusals_of("grab")
        .unwrap_or_default()
        .into_iter()
        .map(|(_, code)| code)
        .collect();
    let outcomes: Vec<&str> = stampede_core::GrabOutcome::CODES
        .into_iter()
        .filter(|code| !refused.contains(code))
        .collect();
    doc["components"]["schemas"]["GrabJson"]["properties"]["outcome"]["enum"] = json!(outcomes);
}

/// The API document (this one), as JSON.
#[utoipa::path(
    get,
    path = "/openapi.json",
    operation_id = "openapi_document",
    tag = "operations",
    responses((status = 200, description = "This OpenAPI 3.1 document", content_type = "application/json", body = Object)),
)]
pub async fn openapi_json() -> Response {
    let mut response = document_text().into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}

/// Every error code the document lists (sorted, each once): what the tests hold against
/// [`crate::AppError::EVERY`], the grab outcomes and the README.
pub fn documented_codes(doc: &Value) -> Vec<String> {
    let mut codes = Vec::new();
    collect_codes(doc, &mut codes);
    codes.sort();
    codes.dedup();
    codes
}

fn collect_codes(value: &Value, codes: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            if let Some(Value::Object(code)) = map.get("code")
                && let Some(Value::Array(values)) = code.get("enum")
            {
                codes.extend(values.iter().filter_map(|v| v.as_str().map(str::to_owned)));
            }
            map.values().for_each(|v| collect_codes(v, codes));
        }
        Value::Array(items) => items.iter().for_each(|v| collect_codes(v, codes)),
        _ => {}
    }
}
