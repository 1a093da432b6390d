//! Task events: queued in call order and forwarded one by one to
//! containerd's event service, so that TaskCreate, TaskStart, TaskExit and
//! TaskDelete always arrive in that order.
//!
//! The forwarder owns its connection to containerd. When containerd cannot
//! be reached (restarting, say), it keeps the event at the head of the
//! queue and tries it again, reconnecting with a growing pause, until
//! containerd takes it: nothing is dropped and nothing overtakes it. (The
//! shim library's publisher puts a failed event back at the end of its
//! queue and drops it after five tries, ~15 s.) An event containerd itself
//! refuses is logged and dropped.

use std::{path::PathBuf, time::Duration, time::SystemTime};

use containerd_shim::{
    event::Event,
    protos::{
        protobuf::well_known_types::any::Any,
        shim::{event::Envelope, events::ForwardRequest},
        shim_async::EventsClient,
        ttrpc::{context, r#async::Client, Code, Error as TtrpcError},
    },
    util,
};
use log::{info, warn};
use tokio::sync::mpsc;

use crate::typeurl::{self, TypeUrl};

/// How long one forward may take before it is tried again.
const FORWARD_TIMEOUT: Duration = Duration::from_secs(5);
/// The first pause before trying again, doubled up to [`MAX_PAUSE`].
const FIRST_PAUSE: Duration = Duration::from_millis(100);
/// The longest pause between tries.
const MAX_PAUSE: Duration = Duration::from_secs(2);

/// The sending side, cheap to clone; sending never blocks.
#[derive(Clone)]
pub struct EventSender {
    tx: mpsc::UnboundedSender<Envelope>,
}

impl EventSender {
    /// Starts the forwarder that publishes to containerd's ttrpc socket at
    /// `address` for `namespace`.
    pub fn start(address: PathBuf, namespace: String) -> Self {
        let (tx, mut rx) = mpsc::unbounded_channel::<Envelope>();
        tokio::spawn(async move {
            let mut forwarder = Forwarder {
                address,
                client: None,
            };
            while let Some(mut envelope) = rx.recv().await {
                envelope.namespace.clone_from(&namespace);
                forwarder.forward(envelope).await;
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

/// One connection to containerd's event service, made when needed.
struct Forwarder {
    address: PathBuf,
    client: Option<EventsClient>,
}

impl Forwarder {
    /// Delivers `envelope`, trying again until containerd takes or refuses it.
    async fn forward(&mut self, envelope: Envelope) {
        let topic = envelope.topic.clone();
        let req = ForwardRequest {
            envelope: Some(envelope).into(),
            ..Default::default()
        };
        let mut pause = FIRST_PAUSE;
        let mut failures = 0u32;
        loop {
            match self.try_forward(&req).await {
                Ok(()) => {
                    if failures > 0 {
                        info!("published {topic} after {failures} failed tries");
                    }
                    return;
                }
                Err(Failure::Refused(e)) => {
                    warn!("containerd refused {topic}, dropped: {e}");
                    return;
                }
                Err(Failure::Unreachable(e)) => {
                    if failures == 0 {
                        warn!("publishing {topic} failed, trying again: {e}");
                    }
                    failures += 1;
                    self.client = None;
                    tokio::time::sleep(pause).await;
                    pause = (pause * 2).min(MAX_PAUSE);
                }
            }
        }
    }

    async fn try_forward(&mut self, req: &ForwardRequest) -> Result<(), Failure> {
        let client = match &self.client {
            Some(client) => client,
            None => {
                let fd = util::connect(self.address.to_string_lossy())
                    .map_err(|e| Failure::Unreachable(e.to_string()))?;
                // SAFETY: `fd` is the connected socket just returned, owned by nobody else.
                let client = unsafe { Client::from_raw_unix_socket_fd(fd) };
                self.client.insert(EventsClient::new(client))
            }
        };
        let ctx = context::with_duration(FORWARD_TIMEOUT);
        match client.forward(ctx, req).await {
            Ok(_) => Ok(()),
            Err(TtrpcError::RpcStatus(status))
                if !matches!(status.code(), Code::DEADLINE_EXCEEDED | Code::UNAVAILABLE) =>
            {
                Err(Failure::Refused(format!("{status:?}")))
            }
            Err(e) => Err(Failure::Unreachable(e.to_string())),
        }
    }
}

/// Why a forward failed.
enum Failure {
    /// containerd answered with an error: trying again would not help.
    Refused(String),
    /// No answer: containerd is away, or the connection broke.
    Unreachable(String),
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use async_trait::async_trait;
    use containerd_shim::{
        api::Empty,
        protos::{
            events::task::{TaskDelete, TaskExit, TaskPaused, TaskStart},
            shim_async::{create_events, Events},
            ttrpc::{
                get_status,
                r#async::{Server, TtrpcContext},
            },
        },
    };

    use super::*;

    /// containerd's event service as far as the shim sees it: records the
    /// topics it takes and refuses `/tasks/paused`.
    struct Recorder(Arc<Mutex<Vec<String>>>);

    #[async_trait]
    impl Events for Recorder {
        async fn forward(
            &self,
            _ctx: &TtrpcContext,
            req: ForwardRequest,
        ) -> containerd_shim::protos::ttrpc::Result<Empty> {
            let topic = req.envelope.topic.clone();
            if topic == "/tasks/paused" {
                return Err(TtrpcError::RpcStatus(get_status(
                    Code::INVALID_ARGUMENT,
                    "refused",
                )));
            }
            assert_eq!(req.envelope.namespace, "ns");
            self.0.lock().unwrap().push(topic);
            Ok(Empty::new())
        }
    }

    fn event<E: Default>(f: impl FnOnce(&mut E)) -> E {
        let mut e = E::default();
        f(&mut e);
        e
    }

    #[tokio::test]
    async fn events_wait_in_order_while_containerd_is_away() {
        let dir = tempfile::tempdir().unwrap();
        let socket = dir.path().join("containerd.sock.ttrpc");
        let sender = EventSender::start(socket.clone(), "ns".to_string());
        sender.send(event(|e: &mut TaskStart| e.container_id = "c".into()));
        sender.send(event(|e: &mut TaskExit| e.exit_status = 42));
        // Several tries fail: nothing listens yet.
        tokio::time::sleep(Duration::from_millis(400)).await;

        let seen = Arc::new(Mutex::new(Vec::new()));
        let mut server = Server::new()
            .bind(&format!("unix://{}", socket.display()))
            .unwrap()
            .register_service(create_events(Arc::new(Recorder(seen.clone()))));
        server.start().await.unwrap();
        sender.send(event(|e: &mut TaskPaused| e.container_id = "c".into()));
        sender.send(event(|e: &mut TaskDelete| e.container_id = "c".into()));

        let want = ["/tasks/start", "/tasks/exit", "/tasks/delete"];
        for _ in 0..100 {
            if seen.lock().unwrap().len() >= want.len() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        server.shutdown().await.unwrap();
        assert_eq!(*seen.lock().unwrap(), want);
    }
}
