//! The shim's entry points as containerd calls them: the `start` and
//! `delete` actions and the daemon that serves the Task API.

use std::{env, path::PathBuf, sync::Arc};

use async_trait::async_trait;
use containerd_shim::{
    api::DeleteResponse,
    asynchronous::{publisher::RemotePublisher, ExitSignal, Shim},
    Config, Flags, StartOpts,
};

use crate::{
    cleanup, events::EventSender, launch, logger, pod, spawner::ReaperSpawner, task::TaskService,
};

/// The runtime name containerd knows this shim by.
pub const RUNTIME_ID: &str = "io.containerd.runsc.v1";

/// State of one shim invocation.
pub struct RunscShim {
    namespace: String,
    id: String,
    bundle: PathBuf,
    exit: Arc<ExitSignal>,
}

#[async_trait]
impl Shim for RunscShim {
    type T = TaskService;

    async fn new(_runtime_id: &str, flags: &Flags, config: &mut Config) -> Self {
        config.no_setup_logger = true;
        match flags.action.as_str() {
            // `start` must print nothing but the address.
            "start" => {}
            _ => logger::init(flags.debug),
        }
        let bundle = if flags.bundle.is_empty() {
            env::current_dir().unwrap_or_default()
        } else {
            PathBuf::from(&flags.bundle)
        };
        Self {
            namespace: flags.namespace.clone(),
            id: flags.id.clone(),
            bundle,
            exit: Arc::default(),
        }
    }

    async fn start_shim(&mut self, opts: StartOpts) -> containerd_shim::Result<String> {
        // containerd runs `start` in the bundle: the pod's containers share
        // the shim of its sandbox.
        let group = pod::group_of_bundle(&self.bundle, &opts.id);
        launch::start(opts, &group)
            .await
            .map_err(|e| containerd_shim::Error::Other(e.to_string()))
    }

    async fn delete_shim(&mut self) -> containerd_shim::Result<DeleteResponse> {
        Ok(cleanup::delete_action(&self.id, &self.bundle).await)
    }

    async fn wait(&mut self) {
        self.exit.wait().await;
    }

    async fn create_task_service(&self, publisher: RemotePublisher) -> TaskService {
        let events = EventSender::start(publisher.address.clone().into(), self.namespace.clone());
        TaskService::new(
            self.namespace.clone(),
            events,
            self.exit.clone(),
            Arc::new(ReaperSpawner),
        )
        .await
    }
}
