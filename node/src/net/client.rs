//! The handle the rest of the node holds: [`NetClient`] sends [`Command`]s
//! to the event loop over a bounded channel and awaits each answer on a
//! oneshot. Nothing but the event loop touches the swarm.

use std::sync::Arc;

use buurt_protocol::sync::{Request as SyncRequest, Response as SyncResponse};
use buurt_protocol::Scope;
use libp2p::PeerId;
use tokio::sync::{mpsc, oneshot};

use buurt_protocol::mail::wire::{Request as MailRequest, Response as MailResponse};
use buurt_protocol::NodeId;

use crate::sync::{self, RequestError, ScopeSync};

/// What the network is told to do.
pub enum Command {
    /// A listing here names this photo: fetch it from peers if missing.
    WantPhoto {
        photo: buurt_protocol::Photo,
    },
    /// How many connected peers follow `scope`'s topic (have announced
    /// their subscription).
    Followers {
        scope: Scope,
        reply: oneshot::Sender<usize>,
    },
    Peers {
        reply: oneshot::Sender<Vec<PeerInfo>>,
    },
    ListenAddrs {
        reply: oneshot::Sender<Vec<String>>,
    },
    /// Send one sync request and hand back the answer.
    SyncRequest {
        peer: PeerId,
        request: SyncRequest,
        reply: oneshot::Sender<Result<SyncResponse, RequestError>>,
    },
    /// Start a sync session now with every connected peer, or with the one
    /// whose node id is given; answers with the number of sessions started.
    SyncNow {
        peer: Option<String>,
        reply: oneshot::Sender<usize>,
    },
    /// A sync session found the peer breaking the protocol.
    Misbehaved {
        peer: PeerId,
        why: String,
    },
    /// Send one mail request to a connected peer.
    MailRequest {
        peer: PeerId,
        request: MailRequest,
        reply: MailReply,
    },
    /// Publish a member's reply-key record.
    PublishReplyKey {
        bytes: Vec<u8>,
    },
    /// How other nodes reach this one.
    Reach {
        reply: oneshot::Sender<super::reach::ReachInfo>,
    },
    /// The peers connected now.
    Connected {
        reply: oneshot::Sender<Vec<PeerId>>,
    },
}

/// Why one of this node's mail requests got no answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SendError {
    /// Not connected to that peer (nothing was sent).
    NotConnected,
    Transport(String),
}

/// Where the answer to one of this node's mail requests goes.
pub type MailReply = oneshot::Sender<Result<MailResponse, SendError>>;

/// A connected peer, as `buurt peers` shows it.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct PeerInfo {
    pub node_id: String,
    pub address: String,
    /// `direct`, or `relayed` when every connection to it runs through a
    /// hub.
    #[serde(default)]
    pub path: String,
    /// The scopes it follows, as far as its gossip subscriptions tell.
    pub scopes: Vec<String>,
    /// When it connected (RFC 3339).
    pub since: String,
    /// Whether this node accepts its members under the policy (its own
    /// members are always accepted by it).
    #[serde(default)]
    pub accepted: bool,
    /// The nodes this node knows to vouch for it.
    #[serde(default)]
    pub vouched_by: Vec<String>,
}

/// Cheap, cloneable handle to the event loop.
#[derive(Clone)]
pub struct NetClient {
    tx: mpsc::Sender<Command>,
    sync: Arc<sync::Context>,
}

impl NetClient {
    pub(super) fn new(tx: mpsc::Sender<Command>, sync: Arc<sync::Context>) -> NetClient {
        NetClient { tx, sync }
    }

    /// Sends a command that expects an answer; `None` when the loop has
    /// stopped.
    async fn ask<T>(&self, make: impl FnOnce(oneshot::Sender<T>) -> Command) -> Option<T> {
        let (reply, rx) = oneshot::channel();
        self.tx.send(make(reply)).await.ok()?;
        rx.await.ok()
    }

    /// How many connected peers follow `scope` (0: none yet; catch-up sync
    /// delivers later).
    pub async fn followers(&self, scope: Scope) -> usize {
        self.ask(|reply| Command::Followers { scope, reply })
            .await
            .unwrap_or(0)
    }

    pub async fn peers(&self) -> Vec<PeerInfo> {
        self.ask(|reply| Command::Peers { reply })
            .await
            .unwrap_or_default()
    }

    /// The last sync result per scope.
    pub fn sync_status(&self) -> Vec<ScopeSync> {
        self.sync.state.snapshot()
    }

    /// Peers with a sync session running.
    pub fn syncing(&self) -> usize {
        self.sync.state.running()
    }

    /// Starts sync sessions now; returns how many.
    pub async fn sync_now(&self, peer: Option<String>) -> usize {
        self.ask(|reply| Command::SyncNow { peer, reply })
            .await
            .unwrap_or(0)
    }

    /// Publishes a member's reply-key record by gossip.
    pub async fn publish_reply_key(&self, bytes: Vec<u8>) {
        let _ = self.tx.send(Command::PublishReplyKey { bytes }).await;
    }

    /// Sends one mail request to `peer` if connected to it.
    /// Asks the network to fetch `photo` from peers if it is missing.
    pub async fn want_photo(&self, photo: buurt_protocol::Photo) {
        let _ = self.tx.send(Command::WantPhoto { photo }).await;
    }

    pub async fn mail_request(
        &self,
        peer: PeerId,
        request: MailRequest,
    ) -> Result<MailResponse, SendError> {
        self.ask(|reply| Command::MailRequest {
            peer,
            request,
            reply,
        })
        .await
        .unwrap_or_else(|| Err(SendError::Transport("the network has stopped".into())))
    }

    /// Sends a mail request to the home node `to`: directly when connected
    /// to it, else through each connected peer in turn until one reaches it
    /// (one relay hop). `Err` or `Unreachable` mean: try again later.
    pub async fn mail(&self, to: NodeId, request: MailRequest) -> Result<MailResponse, String> {
        let Some(home) = crate::ids::peer_id_of(&to) else {
            return Ok(MailResponse::Refused(
                "the home node id is not a key".into(),
            ));
        };
        let mut last =
            "the home node is not connected, and no connected peer reaches it".to_string();
        match self.mail_request(home, request.clone()).await {
            Ok(r) => return Ok(r),
            Err(SendError::NotConnected) => {}
            Err(SendError::Transport(e)) => last = e,
        }
        let peers = self
            .ask(|reply| Command::Connected { reply })
            .await
            .unwrap_or_default();
        for p in peers.into_iter().filter(|p| *p != home) {
            match self.mail_request(p, request.clone()).await {
                Ok(MailResponse::Unreachable(why)) => last = why,
                Ok(r) => return Ok(r),
                Err(SendError::NotConnected) => {}
                Err(SendError::Transport(e)) => last = e,
            }
        }
        Err(last)
    }

    pub async fn listen_addrs(&self) -> Vec<String> {
        self.ask(|reply| Command::ListenAddrs { reply })
            .await
            .unwrap_or_default()
    }

    /// How other nodes reach this one.
    pub async fn reach(&self) -> super::reach::ReachInfo {
        self.ask(|reply| Command::Reach { reply })
            .await
            .unwrap_or_default()
    }
}

impl crate::mail::outbox::Courier for NetClient {
    async fn carry(&self, to: NodeId, request: MailRequest) -> Result<MailResponse, String> {
        self.mail(to, request).await
    }
}

impl sync::Requester for NetClient {
    async fn request(
        &self,
        peer: PeerId,
        request: SyncRequest,
    ) -> Result<SyncResponse, RequestError> {
        self.ask(|reply| Command::SyncRequest {
            peer,
            request,
            reply,
        })
        .await
        .unwrap_or_else(|| Err(RequestError::Transport("the network has stopped".into())))
    }

    async fn misbehaved(&self, peer: PeerId, why: String) {
        let _ = self.tx.send(Command::Misbehaved { peer, why }).await;
    }
}
