//! The OpenAPI vocabulary: schemas of the types the handlers take and return, for the handlers'
//! annotations and the spec root (`openapi.rs`) alike. A leaf: it imports no handler.

use utoipa::openapi::RefOr;
use utoipa::ToSchema;

/// `Low`, `Normal`, `High` or `Critical` (any case accepted on input).
#[derive(ToSchema)]
#[schema(as = Priority)]
#[allow(dead_code)]
pub enum PrioritySchema {
    Low,
    Normal,
    High,
    Critical,
}

/// The body of a 429: the error plus how long to wait.
#[derive(ToSchema)]
#[schema(as = RateLimitError)]
#[allow(dead_code)]
pub struct RateLimitErrorDoc {
    error: RateLimitDetailDoc,
}

#[derive(ToSchema)]
#[schema(as = RateLimitErrorDetail)]
#[allow(dead_code)]
pub struct RateLimitDetailDoc {
    /// `RATE_LIMIT_EXCEEDED`
    code: String,
    message: String,
    retry_after_seconds: u64,
}

/// ACK tracking counts: the domain's own type, described here (the domain stays free of utoipa).
impl utoipa::PartialSchema for crate::domain::ack::AckStats {
    fn schema() -> RefOr<utoipa::openapi::schema::Schema> {
        use utoipa::openapi::schema::{ObjectBuilder, Type};
        let count = || ObjectBuilder::new().schema_type(Type::Integer).minimum(Some(0));
        ObjectBuilder::new()
            .description(Some("ACK tracking counts."))
            .property("pending", count())
            .property("acknowledged", count())
            .property("expired", count())
            .property("average_ack_time_ms", ObjectBuilder::new().schema_type(Type::Number))
            .required("pending")
            .required("acknowledged")
            .required("expired")
            .required("average_ack_time_ms")
            .additional_properties(Some(utoipa::openapi::schema::AdditionalProperties::FreeForm(false)))
            .into()
    }
}

impl ToSchema for crate::domain::ack::AckStats {
    fn name() -> std::borrow::Cow<'static, str> {
        std::borrow::Cow::Borrowed("AckStats")
    }
}

/// A JSON object with any members.
#[derive(ToSchema)]
#[schema(value_type = Object)]
#[allow(dead_code)]
pub struct Object(serde_json::Value);

/// A string schema with a pattern, for a type of the domain (or a marker type here, for strings the
/// domain keeps no type for). utoipa's derive takes no pattern on a newtype, and the domain stays free
/// of it: the schema is written here, in the same crate.
macro_rules! string_schema {
    ($ty:ty, $name:literal, $description:literal, $pattern:literal, $max:expr) => {
        impl utoipa::PartialSchema for $ty {
            fn schema() -> RefOr<utoipa::openapi::schema::Schema> {
                utoipa::openapi::ObjectBuilder::new()
                    .schema_type(utoipa::openapi::schema::Type::String)
                    .description(Some($description))
                    .pattern(Some($pattern))
                    .max_length($max)
                    .into()
            }
        }

        impl ToSchema for $ty {
            fn name() -> std::borrow::Cow<'static, str> {
                std::borrow::Cow::Borrowed($name)
            }
        }
    };
}

/// An event type (the domain keeps it as a plain string).
pub struct EventTypeSchema;

string_schema!(
    crate::domain::UserId,
    "UserId",
    "A user id: 1–128 characters, no control characters.",
    r"^[^\u0000-\u001F\u007F-\u009F]{1,128}$",
    None
);
string_schema!(
    crate::domain::ChannelName,
    "ChannelName",
    "A channel name: 1–64 characters of A-Z a-z 0-9 _ . -",
    r"^[A-Za-z0-9_.\-]{1,64}$",
    None
);
string_schema!(
    crate::domain::TemplateId,
    "TemplateId",
    "A template id: 1–64 characters of A-Z a-z 0-9 _ -",
    r"^[A-Za-z0-9_\-]{1,64}$",
    None
);
string_schema!(
    EventTypeSchema,
    "EventType",
    "An event type: 1–128 characters, not only whitespace, no control characters.",
    r"^[^\u0000-\u001F\u007F-\u009F]*[^\s\u0000-\u001F\u007F-\u009F][^\u0000-\u001F\u007F-\u009F]*$",
    Some(128)
);
string_schema!(
    crate::domain::TenantId,
    "TenantId",
    "A tenant id: 1–64 characters of A-Z a-z 0-9 _ . -",
    r"^[A-Za-z0-9_.\-]{1,64}$",
    None
);
