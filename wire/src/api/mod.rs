//! JSON requests and responses of the HTTP API, one file per area. Requests refuse unknown fields,
//! so a misspelt option is an error rather than silently ignored.

pub mod cluster;
pub mod groups;
pub mod offsets;
pub mod records;
pub mod seed;
pub mod topics;

pub use cluster::*;
pub use groups::*;
pub use offsets::*;
pub use records::*;
pub use seed::*;
pub use topics::*;
