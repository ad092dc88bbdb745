//! The dashboard's endpoints in the OpenAPI description, merged into the API's by [`AdminPaths`].

use utoipa::openapi::security::{ApiKey, ApiKeyValue, SecurityScheme};
use utoipa::{Modify, OpenApi, ToSchema};

use super::{inspector, login};

/// The login form's body.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct LoginFormDoc {
    /// `ADMIN_API_KEY`.
    key: String,
}

#[derive(OpenApi)]
#[openapi(
    paths(login::form, login::submit, login::logout, login::session_info, inspector::connections),
    components(schemas(LoginFormDoc, login::SessionInfo, inspector::ConnectionList, inspector::ConnectionInfo)),
    tags((name = "admin", description = "The dashboard at /admin (ADMIN_API_KEY, session cookie, X-CSRF-Token)"))
)]
struct AdminApiDoc;

/// Adds the dashboard's paths and its session-cookie scheme to the API's description.
pub struct AdminPaths;

impl Modify for AdminPaths {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        openapi.merge(AdminApiDoc::openapi());
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "admin_session",
            SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::with_description(
                super::session::COOKIE,
                "Set by POST /admin/login; requests that act also need the X-CSRF-Token header from GET /admin/api/session",
            ))),
        );
    }
}
