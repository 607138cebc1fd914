//! Path parameters shared by several endpoints, with the examples the fuzzer starts from (the
//! topic `orders` and the group `billing`, which `tests/fuzz/api.sh` creates).

use utoipa::IntoParams;

#[derive(IntoParams)]
#[into_params(parameter_in = Path)]
#[allow(dead_code)]
pub struct TopicParam {
    /// The topic's name.
    #[param(example = "orders")]
    topic: String,
}

#[derive(IntoParams)]
#[into_params(parameter_in = Path)]
#[allow(dead_code)]
pub struct PartitionParams {
    /// The topic's name.
    #[param(example = "orders")]
    topic: String,
    /// The partition's index, from 0.
    #[param(example = 0)]
    partition: u32,
}

#[derive(IntoParams)]
#[into_params(parameter_in = Path)]
#[allow(dead_code)]
pub struct GroupParam {
    /// The consumer group's name.
    #[param(example = "billing")]
    group: String,
}

#[derive(IntoParams)]
#[into_params(parameter_in = Path)]
#[allow(dead_code)]
pub struct MemberParams {
    /// The consumer group's name.
    #[param(example = "billing")]
    group: String,
    /// The member's id, as its join returned it.
    member: String,
}

#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
pub struct AcksParam {
    /// For a binary body: what the answer waits for — `all` (or `-1`, the default: the in-sync
    /// replicas hold the batches), `1` (the leader appended them) or `0`. Also the `mq-acks`
    /// header. A JSON body says `acks` in the body instead.
    #[param(example = "all")]
    acks: Option<String>,
}
