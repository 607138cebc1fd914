//! One file per command area; each takes the client and its parsed arguments and prints.

pub mod bench;
pub mod cluster;
pub mod consume;
pub mod group;
pub mod produce;
pub mod topic;
