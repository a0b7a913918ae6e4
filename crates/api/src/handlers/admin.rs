//! Admin endpoints for the defences: rules, blocklist, degrade switches.
//!
//! - `GET /v1/admin/rules`, `PUT /v1/admin/rules {"rules":[…]}` — replaced whole, effective at
//!   once; an invalid set is refused naming the field and the old rules stay.
//! - `POST /v1/admin/blocklist {"kind":"user"|"ip","value":"…","ttl_secs":N?,"reason":"…",
//!   "list":"block"|"allow"?}`, `GET /v1/admin/blocklist`,
//!   `DELETE /v1/admin/blocklist/{kind}/{value}[?list=allow]` — persisted before answering.
//! - `GET /v1/admin/switches`, `PUT /v1/admin/switches/{name} {"on": bool}` — logged with who
//!   (the `X-Operator` header, else `admin@<client address>`) and when.

use std::sync::Arc;

use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use stampede_admission::blocklist::{Entry, ListKind, Origin, Subject};
use stampede_admission::client_ip::parse_net;
use stampede_admission::rules::RuleSpec;
use stampede_admission::switches::{Switch, SwitchState};
use stampede_core::UserId;
use utoipa::ToSchema;

use crate::error::AppError;
use crate::handlers::campaigns::require_admin;
use crate::handlers::path::{PathParams, Peer};
use crate::json::{JsonBody, respond};
use crate::state::AppState;
use crate::timefmt::format_rfc3339;

/// Longest ban an operator may set: 30 days (longer is a permanent entry: omit `ttl_secs`).
pub const MAX_TTL_SECS: u64 = 30 * 86_400;
/// Longest `X-Operator` name kept in the switch log.
const MAX_OPERATOR_BYTES: usize = 64;

/// `PUT /v1/admin/rules` body and `GET` answer.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RulesBody {
    /// The rules, in configured order (they run narrowest key first: see
    /// `stampede_admission::rules`).
    pub rules: Vec<RuleSpec>,
}

/// Lists the rules in force.
#[utoipa::path(
    get,
    path = "/v1/admin/rules",
    operation_id = "get_rules",
    tag = "admin",
    security(("admin_key" = [])),
    responses((status = 200, description = "The admission rules in force", body = RulesBody)),
)]
pub async fn get_rules(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
) -> Result<Response, AppError> {
    require_admin(&state, &headers)?;
    Ok(respond(
        StatusCode::OK,
        &RulesBody {
            rules: state.defence.rules(),
        },
    ))
}

/// Replaces the rules whole.
#[utoipa::path(
    put,
    path = "/v1/admin/rules",
    operation_id = "put_rules",
    tag = "admin",
    security(("admin_key" = [])),
    request_body = RulesBody,
    responses((status = 200, description = "The rules now in force", body = RulesBody)),
)]
pub async fn put_rules(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    body: Result<JsonBody<RulesBody>, AppError>,
) -> Result<Response, AppError> {
    require_admin(&state, &headers)?;
    let JsonBody(body) = body?;
    state
        .defence
        .set_rules(body.rules)
        .map_err(|e| AppError::BadRequest(e.to_string()))?;
    tracing::warn!(
        rules = state.defence.rules().len(),
        "rules replaced through the admin API"
    );
    Ok(respond(
        StatusCode::OK,
        &RulesBody {
            rules: state.defence.rules(),
        },
    ))
}

/// `POST /v1/admin/blocklist` body.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewEntry {
    /// `user` or `ip`.
    #[schema(pattern = "^(user|ip)$")]
    kind: String,
    /// A user id, an IP address or a CIDR network.
    value: String,
    /// How long it lasts (1 to 30 days); absent: until lifted.
    ttl_secs: Option<u64>,
    /// Why (1 to 200 bytes).
    reason: String,
    /// `block` (default) or `allow`.
    list: Option<ListKind>,
}

/// An entry as listed.
#[derive(Debug, Serialize, ToSchema)]
pub struct EntryJson {
    list: ListKind,
    kind: &'static str,
    value: String,
    reason: String,
    origin: Origin,
    created_at: String,
    expires_at: Option<String>,
}

impl From<&Entry> for EntryJson {
    fn from(e: &Entry) -> Self {
        Self {
            list: e.list,
            kind: e.subject.kind(),
            value: e.subject.value(),
            reason: e.reason.clone(),
            origin: e.origin,
            created_at: format_rfc3339(stampede_core::UnixMillis(e.created_at_ms)),
            expires_at: e
                .expires_at_ms
                .map(|t| format_rfc3339(stampede_core::UnixMillis(t))),
        }
    }
}

fn subject(kind: &str, value: &str) -> Result<Subject, AppError> {
    match kind {
        "user" => UserId::validate(value)
            .map(|()| Subject::User(value.to_owned()))
            .map_err(|e| AppError::BadRequest(format!("value: {e}"))),
        "ip" => parse_net(value)
            .map(Subject::Ip)
            .ok_or_else(|| AppError::BadRequest("value: not an IP address or CIDR network".into())),
        _ => Err(AppError::BadRequest(
            "kind: must be \"user\" or \"ip\"".into(),
        )),
    }
}

/// Adds a block or allow entry.
#[utoipa::path(
    post,
    path = "/v1/admin/blocklist",
    operation_id = "add_blocklist_entry",
    tag = "admin",
    security(("admin_key" = [])),
    request_body = NewEntry,
    responses((status = 201, description = "The entry, persisted", body = EntryJson)),
)]
pub async fn add_entry(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    body: Result<JsonBody<NewEntry>, AppError>,
) -> Result<Response, AppError> {
    require_admin(&state, &headers)?;
    let JsonBody(body) = body?;
    let subject = subject(&body.kind, &body.value)?;
    if body.reason.trim().is_empty()
        || body.reason.len() > stampede_admission::blocklist::MAX_REASON_BYTES
    {
        return Err(AppError::BadRequest(format!(
            "reason: 1 to {} bytes",
            stampede_admission::blocklist::MAX_REASON_BYTES
        )));
    }
    if body.ttl_secs.is_some_and(|t| t == 0 || t > MAX_TTL_SECS) {
        return Err(AppError::BadRequest(format!(
            "ttl_secs: 1 to {MAX_TTL_SECS}"
        )));
    }
    let now_ms = state.now_ms();
    let entry = Entry {
        list: body.list.unwrap_or(ListKind::Block),
        subject,
        reason: body.reason,
        origin: Origin::Manual,
        created_at_ms: now_ms,
        expires_at_ms: body.ttl_secs.map(|t| now_ms + t * 1000),
    };
    let shown = EntryJson::from(&entry);
    state.defence.add_entry(entry, now_ms).await?;
    tracing::warn!(kind = shown.kind, value = %shown.value, list = ?shown.list, "blocklist entry added");
    Ok(respond(StatusCode::CREATED, &shown))
}

/// `GET /v1/admin/blocklist` answer.
#[derive(Debug, Serialize, ToSchema)]
pub struct EntriesJson {
    /// Every entry in force (manual and automatic).
    entries: Vec<EntryJson>,
}

/// Lists every entry in force.
#[utoipa::path(
    get,
    path = "/v1/admin/blocklist",
    operation_id = "list_blocklist",
    tag = "admin",
    security(("admin_key" = [])),
    responses((status = 200, description = "Every entry in force", body = EntriesJson)),
)]
pub async fn list_entries(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
) -> Result<Response, AppError> {
    require_admin(&state, &headers)?;
    let entries: Vec<EntryJson> = state
        .defence
        .blocklist
        .entries(state.now_ms())
        .iter()
        .map(EntryJson::from)
        .collect();
    Ok(respond(StatusCode::OK, &EntriesJson { entries }))
}

/// `DELETE /v1/admin/blocklist/{kind}/{value}` query.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct DeleteQuery {
    /// The list to lift it from: `block` (default) or `allow`.
    list: Option<ListKind>,
}

/// Lifts an entry (a manual block, an allow, or an automatic ban).
#[utoipa::path(
    delete,
    path = "/v1/admin/blocklist/{kind}/{value}",
    operation_id = "remove_blocklist_entry",
    tag = "admin",
    security(("admin_key" = [])),
    params(
        ("kind" = String, Path, description = "`user` or `ip`", pattern = "^(user|ip)$"),
        ("value" = String, Path, description = "The user id, IP address or CIDR network (may contain `/`)"),
        DeleteQuery,
    ),
    responses((status = 204, description = "Lifted (persisted)")),
)]
pub async fn remove_entry(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    path: Result<PathParams<(String, String)>, AppError>,
    query: Result<Query<DeleteQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, AppError> {
    require_admin(&state, &headers)?;
    let PathParams((kind, value)) = path?;
    let Query(query) =
        query.map_err(|e| AppError::BadRequest(format!("query: {}", e.body_text())))?;
    let subject = subject(&kind, &value)?;
    let list = query.list.unwrap_or(ListKind::Block);
    if state
        .defence
        .remove_entry(list, &subject, state.now_ms())
        .await?
    {
        tracing::warn!(kind, value, ?list, "blocklist entry removed");
        Ok(StatusCode::NO_CONTENT.into_response())
    } else {
        Err(AppError::NotFound("not_listed", "no such entry"))
    }
}

/// `GET /v1/admin/switches` answer.
#[derive(Debug, Serialize, ToSchema)]
pub struct SwitchesJson {
    /// Every degrade switch.
    switches: Vec<SwitchState>,
}

/// Lists the switches.
#[utoipa::path(
    get,
    path = "/v1/admin/switches",
    operation_id = "list_switches",
    tag = "admin",
    security(("admin_key" = [])),
    responses((status = 200, description = "Every degrade switch", body = SwitchesJson)),
)]
pub async fn list_switches(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
) -> Result<Response, AppError> {
    require_admin(&state, &headers)?;
    Ok(respond(
        StatusCode::OK,
        &SwitchesJson {
            switches: state.defence.switches.list(),
        },
    ))
}

/// `PUT /v1/admin/switches/{name}` body.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SwitchBody {
    /// Whether the feature is on.
    on: bool,
}

/// Flips a switch.
#[utoipa::path(
    put,
    path = "/v1/admin/switches/{name}",
    operation_id = "set_switch",
    tag = "admin",
    security(("admin_key" = [])),
    params(
        ("name" = String, Path, description = "`grab`, `campaign_detail` or `winners`", pattern = "^(grab|campaign_detail|winners)$"),
        ("X-Operator" = Option<String>, Header, description = "Who flips it (1 to 64 bytes), for the log"),
    ),
    request_body = SwitchBody,
    responses((status = 200, description = "The switch as it is now", body = SwitchState)),
)]
pub async fn set_switch(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    name: Result<PathParams<String>, AppError>,
    Peer(peer): Peer,
    body: Result<JsonBody<SwitchBody>, AppError>,
) -> Result<Response, AppError> {
    require_admin(&state, &headers)?;
    let PathParams(name) = name?;
    let switch = Switch::from_name(&name).ok_or(AppError::NotFound(
        "switch_not_found",
        "no such switch (grab, campaign_detail, winners)",
    ))?;
    let JsonBody(body) = body?;
    let who = match headers.get("x-operator").and_then(|v| v.to_str().ok()) {
        Some(name) if !name.is_empty() && name.len() <= MAX_OPERATOR_BYTES => name.to_owned(),
        _ => {
            let ip = state.defence.client_ip(peer, &headers);
            format!(
                "admin@{}",
                ip.map_or_else(|| "unknown".to_owned(), |ip| ip.to_string())
            )
        }
    };
    let previous = state
        .defence
        .switches
        .set(switch, body.on, &who, state.now_ms());
    tracing::warn!(
        switch = switch.name(),
        on = body.on,
        previous,
        who,
        "degrade switch flipped"
    );
    let shown = state
        .defence
        .switches
        .list()
        .into_iter()
        .find(|s| s.name == switch.name());
    Ok(respond(StatusCode::OK, &shown))
}
