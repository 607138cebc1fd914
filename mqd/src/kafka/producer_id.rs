//! InitProducerId: gives an idempotent producer its id. Ids are random 63-bit numbers, as
//! `mqctl produce` picks its own: the partitions' producer windows only need them distinct, and
//! two producers drawing the same one is a 1 in 2^31 chance after 2^16 producers. A producer
//! that asks again with its id (KIP-360) gets the same id at the next epoch. Transactions are
//! not supported: a transactional id is refused.

use kafka_protocol::messages::{InitProducerIdRequest, InitProducerIdResponse, ProducerId};
use kafka_protocol::ResponseError;

pub(super) fn init_producer_id(request: &InitProducerIdRequest) -> InitProducerIdResponse {
    if request.transactional_id.is_some() {
        return InitProducerIdResponse::default()
            .with_error_code(ResponseError::TransactionalIdAuthorizationFailed.code())
            .with_producer_id(ProducerId(-1))
            .with_producer_epoch(-1);
    }
    let (id, epoch) = if request.producer_id.0 >= 0 && request.producer_epoch >= 0 {
        (
            request.producer_id.0,
            request.producer_epoch.checked_add(1).unwrap_or(0),
        )
    } else {
        ((uuid::Uuid::new_v4().as_u64_pair().0 >> 1) as i64, 0)
    };
    InitProducerIdResponse::default()
        .with_producer_id(ProducerId(id))
        .with_producer_epoch(epoch)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_new_producer_gets_a_fresh_id_and_a_known_one_the_next_epoch() {
        let first = init_producer_id(
            &InitProducerIdRequest::default()
                .with_transactional_id(None)
                .with_producer_id(ProducerId(-1))
                .with_producer_epoch(-1),
        );
        let second = init_producer_id(
            &InitProducerIdRequest::default()
                .with_transactional_id(None)
                .with_producer_id(ProducerId(-1))
                .with_producer_epoch(-1),
        );
        assert!(first.producer_id.0 >= 0);
        assert_ne!(first.producer_id, second.producer_id);
        assert_eq!(first.producer_epoch, 0);
        let bumped = init_producer_id(
            &InitProducerIdRequest::default()
                .with_transactional_id(None)
                .with_producer_id(first.producer_id)
                .with_producer_epoch(0),
        );
        assert_eq!(
            (bumped.producer_id, bumped.producer_epoch),
            (first.producer_id, 1)
        );
    }
}
