//! Task events: queued in call order and forwarded one by one to
//! containerd's event service, so that TaskCreate, TaskStart, TaskExit and
//! TaskDelete always arrive in that order.

use std::{collections::HashMap, time::SystemTime};

use containerd_shim::{
    event::Event,
    protos::{
        protobuf::well_known_types::any::Any,
        shim::{event::Envelope, events::ForwardRequest},
        shim_async::Events,
        ttrpc::{r#async::TtrpcContext, MessageHeader},
    },
    publisher::RemotePublisher,
};
use log::warn;
use tokio::sync::mpsc;

use crate::typeurl::{self, TypeUrl};

/// The sending side, cheap to clone; sending never blocks.
#[derive(Clone)]
pub struct EventSender {
    tx: mpsc::UnboundedSender<Envelope>,
}

impl EventSender {
    /// Starts the forwarder that publishes to containerd for `namespace`.
    pub fn start(publisher: RemotePublisher, namespace: String) -> Self {
        let (tx, mut rx) = mpsc::unbounded_channel::<Envelope>();
        tokio::spawn(async move {
            while let Some(mut envelope) = rx.recv().await {
                envelope.namespace.clone_from(&namespace);
                let topic = envelope.topic.clone();
                // The publisher's queue takes it from here: it retries on
                // errors and reconnects, without a deadline of its own.
                let ctx = TtrpcContext {
                    mh: MessageHeader::default(),
                    metadata: HashMap::new(),
                    timeout_nano: 0,
                };
                let req = ForwardRequest {
                    envelope: Some(envelope).into(),
                    ..Default::default()
                };
                if let Err(e) = publisher.forward(&ctx, req).await {
                    warn!("publishing {topic} failed: {e}");
                }
            }
        });
        Self { tx }
    }

    /// Queues an event, stamped with the time of this call.
    pub fn send<E: Event + TypeUrl>(&self, event: E) {
        let topic = event.topic();
        let event: Any = match typeurl::pack(&event) {
            Ok(any) => any,
            Err(e) => {
                warn!("dropping {topic}: {e}");
                return;
            }
        };
        let _ = self.tx.send(Envelope {
            timestamp: Some(typeurl::timestamp(SystemTime::now())).into(),
            topic,
            event: Some(event).into(),
            ..Default::default()
        });
    }
}
