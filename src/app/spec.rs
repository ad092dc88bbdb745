//! The whole server's OpenAPI description: the HTTP API's and the dashboard's, which are separate
//! adapters and so are put together here.

use utoipa::openapi::OpenApi as Spec;
use utoipa::{Modify, OpenApi};

use crate::adapters::{admin, http};

pub fn openapi() -> Spec {
    let mut spec = http::openapi::ApiDoc::openapi();
    admin::openapi::AdminPaths.modify(&mut spec);
    spec
}

/// Exactly as committed in `openapi/openapi.json`.
pub fn openapi_json() -> String {
    http::openapi::to_json(&openapi())
}
