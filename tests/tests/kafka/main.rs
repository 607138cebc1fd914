//! The Kafka listener driven by a real Kafka client (librdkafka, through the `rdkafka` crate):
//! metadata, topic creation, an idempotent `acks=all` producer and a consumer reading back
//! exactly what was sent, headers and large values, compressed batches, and records crossing
//! between Kafka clients and the HTTP API.
//!
//! One test binary (librdkafka is linked once); its modules group the tests by what they drive.

mod admin;
mod client;
mod cluster;
mod groups;
mod protocol;
mod records;
