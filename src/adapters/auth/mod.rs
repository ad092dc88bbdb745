//! Client authentication: HS256 JWTs for connections, the API key for the HTTP API.

mod jwt;

pub use jwt::{AuthError, Claims, JwtAuth, JwtSettings};
