//! The wire types of mq, defined once and imported by both `mqd` and `mqctl`, so the daemon and the
//! CLI cannot drift apart.
//!
//! - [`batch`]: the binary record batch, the unit of data on the wire, in memory and later on disk.
//! - [`api`]: the JSON requests and responses of the HTTP API under `/v1`, and the seed's endpoints.
//! - [`error`]: the stable error codes and the `{"error": {"code", "message"}}` body.
//! - [`partitioner`]: which partition a keyed record goes to (Kafka's murmur2 rule), shared so
//!   clients can batch per partition.
//! - [`bytes_field`]: how arbitrary bytes travel in JSON (UTF-8 text or base64) without loss.

pub mod api;
pub mod batch;
pub mod binary;
pub mod bytes_field;
pub mod error;
pub mod partitioner;

pub use error::{ErrorBody, ErrorCode, ErrorDetail};
