//! The HTTP layer under the routes: limits ([`limits`]), security headers ([`headers`]) and the
//! accept loop with its header timeout ([`serve`]). Nothing here knows a route.

pub mod headers;
pub mod limits;
pub mod serve;
