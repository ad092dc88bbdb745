//! `POST /api/v1/notifications/batch`: up to 100 notifications, each with its own target, in one request.
//!
//! Items are parsed one by one, so one bad item is reported at its index instead of failing the batch
//! (unless `atomic` asks for all or nothing).

use std::collections::HashSet;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use super::caller::Acting;
use super::error::{ApiError, Body as ErrorResponse};
use super::extract::{unknown_field, ApiJson};
use super::send::send_body;
use super::state::AppState;
use crate::service::{PreparedSend, TargetSpec};

pub const MAX_ITEMS: usize = 100;
pub const BODY_LIMIT_BYTES: usize = 1024 * 1024;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BatchRequest {
    /// 1–100 items, each parsed and reported on its own.
    #[schema(value_type = Vec<BatchItem>, min_items = 1, max_items = 100)]
    pub notifications: Vec<serde_json::Value>,
    #[serde(default)]
    pub stop_on_error: bool,
    #[serde(default)]
    pub deduplicate: bool,
    #[serde(default)]
    pub atomic: bool,
}

send_body! {
    BatchItem {
        target: TargetSpec,
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ItemResult {
    pub index: usize,
    pub success: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub notification_id: Option<Uuid>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub delivered_to: Option<usize>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub skipped: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error_code: Option<&'static str>,
}

impl ItemResult {
    fn failed(index: usize, e: &ApiError) -> Self {
        Self {
            index,
            success: false,
            notification_id: None,
            delivered_to: None,
            skipped: false,
            error: Some(e.to_string()),
            error_code: Some(e.code()),
        }
    }

    fn skipped(index: usize, why: &str) -> Self {
        Self {
            index,
            success: false,
            notification_id: None,
            delivered_to: None,
            skipped: true,
            error: Some(why.to_owned()),
            error_code: None,
        }
    }
}

#[derive(Debug, Default, Serialize, ToSchema)]
pub struct Summary {
    pub total: usize,
    pub successful: usize,
    pub failed: usize,
    pub skipped: usize,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct BatchResponse {
    pub results: Vec<ItemResult>,
    pub summary: Summary,
    pub successful: usize,
    pub failed: usize,
}

impl BatchResponse {
    fn new(results: Vec<ItemResult>) -> Self {
        let mut summary = Summary { total: results.len(), ..Default::default() };
        for r in &results {
            match (r.success, r.skipped) {
                (true, _) => summary.successful += 1,
                (false, true) => summary.skipped += 1,
                (false, false) => summary.failed += 1,
            }
        }
        Self { successful: summary.successful, failed: summary.failed, results, summary }
    }
}

/// Reads one item. Its other errors are the item's own (the inner `Err`), but an unknown field refuses
/// the whole batch (the outer one): the sender's idea of the format is not the server's — a
/// `tenant_id` or a misspelt `priority` would otherwise change where or how an item goes — so none
/// of its items should go out.
fn parse_item(index: usize, raw: serde_json::Value) -> Result<Result<BatchItem, ApiError>, ApiError> {
    match serde_json::from_value(raw) {
        Ok(item) => Ok(Ok(item)),
        Err(e) => {
            let message = e.to_string();
            if let Some(unknown) = unknown_field(&message) {
                let message = format!("notifications[{index}]: {unknown}");
                return Err(ApiError::BadRequest { code: "UNKNOWN_FIELD", message });
            }
            Ok(Err(ApiError::BadRequest { code: "INVALID_ITEM", message: format!("invalid batch item: {message}") }))
        }
    }
}

async fn prepare(state: &AppState, acting: &Acting, item: BatchItem) -> Result<PreparedSend, ApiError> {
    let target = item.target.to_target()?;
    super::send::prepare(state, acting.tenant().clone(), item.into_content(), target).await
}

/// Same target and event type: the duplicate a `deduplicate` batch skips.
fn dedup_key(p: &PreparedSend) -> String {
    format!("{:?}|{}", p.target, p.draft.event_type)
}

/// Sends up to 100 notifications, each with its own target.
#[utoipa::path(post, path = "/api/v1/notifications/batch", tag = "notifications", request_body = BatchRequest,
    responses((status = 200, description = "Per-item results; items can fail on their own", body = BatchResponse),
        (status = 400, description = "INVALID_JSON, INVALID_REQUEST, UNKNOWN_FIELD (in the request, an item or its target; nothing is sent), EMPTY_BATCH, BATCH_TOO_LARGE, or BATCH_VALIDATION_FAILED (atomic batches; the body then also carries `results`)", body = ErrorResponse),
        (status = 413, description = "PAYLOAD_TOO_LARGE (over 1 MiB)", body = ErrorResponse),
        (status = 415, description = "UNSUPPORTED_MEDIA_TYPE", body = ErrorResponse)))]
pub async fn send_batch(
    State(state): State<AppState>,
    acting: Acting,
    ApiJson(req): ApiJson<BatchRequest>,
) -> Result<Response, ApiError> {
    if req.notifications.is_empty() {
        return Err(ApiError::BadRequest { code: "EMPTY_BATCH", message: "notifications must not be empty".into() });
    }
    if req.notifications.len() > MAX_ITEMS {
        return Err(ApiError::BadRequest {
            code: "BATCH_TOO_LARGE",
            message: format!("a batch holds at most {MAX_ITEMS} notifications, got {}", req.notifications.len()),
        });
    }
    state.metrics.batch(req.notifications.len());
    let mut parsed = Vec::with_capacity(req.notifications.len());
    for (index, raw) in req.notifications.into_iter().enumerate() {
        let item = parse_item(index, raw)?;
        // Another tenant named in any item refuses the whole batch, like an unknown field.
        if let Ok(item) = &item {
            acting.0.check_body_tenant(item.tenant_id.as_deref())?;
        }
        parsed.push(item);
    }
    let mut prepared = Vec::with_capacity(parsed.len());
    for item in parsed {
        prepared.push(match item {
            Ok(item) => prepare(&state, &acting, item).await,
            Err(e) => Err(e),
        });
    }
    if req.atomic && prepared.iter().any(Result::is_err) {
        let results = prepared
            .iter()
            .enumerate()
            .map(|(i, p)| match p {
                Err(e) => ItemResult::failed(i, e),
                Ok(_) => ItemResult::skipped(i, "not sent: the atomic batch has invalid items"),
            })
            .collect();
        let body = serde_json::json!({
            "error": {"code": "BATCH_VALIDATION_FAILED", "message": "atomic batch not sent: some items are invalid"},
            "results": BatchResponse::new(results).results,
        });
        return Ok((StatusCode::BAD_REQUEST, Json(body)).into_response());
    }
    let mut results = Vec::with_capacity(prepared.len());
    let mut seen = HashSet::new();
    let mut stopped = false;
    for (index, item) in prepared.into_iter().enumerate() {
        if stopped {
            results.push(ItemResult::skipped(index, "not sent: an earlier item failed and stop_on_error is set"));
            continue;
        }
        let result = match item {
            Err(e) => ItemResult::failed(index, &e),
            Ok(p) if req.deduplicate && !seen.insert(dedup_key(&p)) => {
                ItemResult::skipped(index, "duplicate of an earlier item (same target and event_type)")
            }
            Ok(p) => match state.service.send_prepared(p).await {
                Ok(report) => ItemResult {
                    index,
                    success: true,
                    notification_id: Some(report.notification_id),
                    delivered_to: Some(report.delivered_to),
                    skipped: false,
                    error: None,
                    error_code: None,
                },
                Err(e) => ItemResult::failed(index, &ApiError::from(e)),
            },
        };
        stopped = req.stop_on_error && !result.success && !result.skipped;
        results.push(result);
    }
    Ok(Json(BatchResponse::new(results)).into_response())
}
