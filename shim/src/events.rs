//! Task events: queued in call order and forwarded one by one to
//! containerd's event service, so that TaskCreate, TaskStart, TaskExit and
//! TaskDelete always arrive in that order.

use containerd_shim::{
    event::Event,
    protos::{protobuf::MessageDyn, ttrpc::context},
    publisher::RemotePublisher,
};
use log::warn;
use tokio::sync::mpsc;

/// How long one publish may take before it is given up.
const PUBLISH_TIMEOUT_NS: i64 = 5_000_000_000;

type Queued = (String, Box<dyn MessageDyn>);

/// The sending side, cheap to clone; sending never blocks.
#[derive(Clone)]
pub struct EventSender {
    tx: mpsc::UnboundedSender<Queued>,
}

impl EventSender {
    /// Starts the forwarder that publishes to containerd for `namespace`.
    pub fn start(publisher: RemotePublisher, namespace: String) -> Self {
        let (tx, mut rx) = mpsc::unbounded_channel::<Queued>();
        tokio::spawn(async move {
            while let Some((topic, event)) = rx.recv().await {
                let ctx = context::with_timeout(PUBLISH_TIMEOUT_NS);
                if let Err(e) = publisher.publish(ctx, &topic, &namespace, event).await {
                    warn!("publishing {topic} failed: {e}");
                }
            }
        });
        Self { tx }
    }

    /// Queues an event.
    pub fn send<E: Event + MessageDyn>(&self, event: E) {
        let _ = self.tx.send((event.topic(), Box::new(event)));
    }
}
