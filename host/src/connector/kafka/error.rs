//! Errors of Kafka sources and sinks, each naming the source or sink and, where it has
//! one, the topic and partition.

use rdkafka::error::{KafkaError, RDKafkaErrorCode};

/// A Kafka source or sink failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KafkaFailure {
    /// The brokers did not answer in time.
    #[error("{who}: the brokers {brokers} could not be reached within {waited_ms} ms: {cause}")]
    Unreachable {
        /// The source or sink, as `Kafka source `name``.
        who: String,
        /// The bootstrap brokers.
        brokers: String,
        /// How long it waited.
        waited_ms: u64,
        /// What librdkafka said last.
        cause: String,
    },
    /// A topic does not exist.
    #[error("{who}: topic `{topic}` does not exist")]
    MissingTopic {
        /// The source or sink.
        who: String,
        /// The topic.
        topic: String,
    },
    /// The brokers refused access.
    #[error("{who}: not authorised ({action} topic `{topic}`): {cause}")]
    Unauthorized {
        /// The source or sink.
        who: String,
        /// The topic.
        topic: String,
        /// What was refused.
        action: &'static str,
        /// What the broker said.
        cause: String,
    },
    /// A record could not be written.
    #[error("{who}: a record for topic `{topic}`{} could not be written: {cause}\n  record: {record}", partition.map(|p| format!(" partition {p}")).unwrap_or_default())]
    Record {
        /// The sink.
        who: String,
        /// The topic.
        topic: String,
        /// The partition, when it had one.
        partition: Option<i32>,
        /// Why.
        cause: String,
        /// The record, shortened.
        record: String,
    },
    /// The producer refused a record before sending it (over `message.max.bytes`): a
    /// fault of the record, which the sink's `dead_letter_topic` takes if it has one.
    #[error(
        "{who}: a record for topic `{topic}` could not be written: {cause}\n  record: {record}"
    )]
    Refused {
        /// The sink.
        who: String,
        /// The topic.
        topic: String,
        /// Why.
        cause: String,
        /// The record, shortened.
        record: String,
    },
    /// Reading or writing a partition failed.
    #[error("{who}: topic `{topic}` partition {partition}: {cause}")]
    Partition {
        /// The source or sink.
        who: String,
        /// The topic.
        topic: String,
        /// The partition.
        partition: i32,
        /// Why.
        cause: String,
    },
    /// A newer producer with the same transactional id took over.
    #[error(
        "{who}: transactional id `{id}` was fenced: another producer with the same id started (is the job running twice, or does another job use the prefix?)"
    )]
    Fenced {
        /// The sink.
        who: String,
        /// The transactional id.
        id: String,
    },
    /// Anything else the client reported.
    #[error("{who}: {cause}")]
    Client {
        /// The source or sink.
        who: String,
        /// Why.
        cause: String,
    },
}

/// The error code of `e` (rdkafka gives none for admin operations, which carry one).
fn code(e: &KafkaError) -> Option<RDKafkaErrorCode> {
    match e {
        KafkaError::AdminOp(c) => Some(*c),
        e => e.rdkafka_error_code(),
    }
}

/// Whether an error is the client failing to reach the brokers (retried by librdkafka,
/// worth waiting for a while), not something the brokers refused.
pub fn is_transient(e: &KafkaError) -> bool {
    use RDKafkaErrorCode as C;
    matches!(
        code(e),
        Some(
            C::BrokerTransportFailure
                | C::AllBrokersDown
                | C::OperationTimedOut
                | C::RequestTimedOut
                | C::NetworkException
                | C::Resolve
                | C::LeaderNotAvailable
                | C::NotLeaderForPartition
                | C::BrokerNotAvailable
                | C::NotCoordinator
                | C::CoordinatorNotAvailable
                | C::CoordinatorLoadInProgress
                | C::Retry
                | C::TimedOutQueue
                | C::MessageTimedOut
        )
    )
}

/// Whether an error is an authorisation failure.
pub fn is_unauthorized(e: &KafkaError) -> bool {
    use RDKafkaErrorCode as C;
    matches!(
        code(e),
        Some(
            C::TopicAuthorizationFailed
                | C::GroupAuthorizationFailed
                | C::ClusterAuthorizationFailed
                | C::TransactionalIdAuthorizationFailed
                | C::SaslAuthenticationFailed
                | C::Authentication
                | C::DelegationTokenAuthorizationFailed
        )
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn admin_operations_are_classified_by_their_code() {
        assert!(is_transient(&KafkaError::AdminOp(
            RDKafkaErrorCode::OperationTimedOut
        )));
        assert!(is_unauthorized(&KafkaError::AdminOp(
            RDKafkaErrorCode::TopicAuthorizationFailed
        )));
        assert!(!is_transient(&KafkaError::AdminOp(
            RDKafkaErrorCode::InvalidReplicationFactor
        )));
    }
}
