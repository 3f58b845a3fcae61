//! A hostile peer for tests: speaks gossipsub to a real node and publishes
//! whatever bytes it is given on a scope's topic.

use std::time::Duration;

use libp2p::futures::StreamExt;
use libp2p::gossipsub::{self, MessageAuthenticity, ValidationMode};
use libp2p::swarm::SwarmEvent;
use libp2p::{noise, tcp, yamux, Multiaddr};
use sha2::{Digest, Sha256};

/// What the hostile peer saw.
#[derive(Debug, Default)]
pub struct Report {
    /// Messages handed to gossipsub for sending.
    pub published: usize,
    /// Whether the target closed the connection afterwards.
    pub disconnected: bool,
    /// Whether a later dial was refused or closed at once.
    pub refused_again: bool,
}

/// Connects to `target` (a multiaddress with `/p2p/`), subscribes to the
/// topic of `scope`, publishes each of `messages` once the target follows the
/// topic, then waits up to `wait` to be disconnected, and tries once more.
pub fn attack(target: &str, scope: &str, messages: Vec<Vec<u8>>, wait: Duration) -> Report {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(run(
        target.parse().expect("target address"),
        scope,
        messages,
        wait,
    ))
}

type HostileSwarm = libp2p::Swarm<gossipsub::Behaviour>;

/// A gossipsub-only peer connected to `target`, once the target follows the
/// topic of `scope` (`None` if it does not by `deadline`).
async fn connected(
    target: &Multiaddr,
    scope: &str,
    deadline: tokio::time::Instant,
) -> Option<(HostileSwarm, gossipsub::IdentTopic)> {
    let config = gossipsub::ConfigBuilder::default()
        .validation_mode(ValidationMode::Anonymous)
        .max_transmit_size(1 << 20)
        .message_id_fn(|m: &gossipsub::Message| {
            gossipsub::MessageId::from(Sha256::digest(&m.data).to_vec())
        })
        .heartbeat_interval(Duration::from_millis(200))
        .build()
        .expect("gossipsub config");
    let mut swarm = libp2p::SwarmBuilder::with_new_identity()
        .with_tokio()
        .with_tcp(
            tcp::Config::default(),
            noise::Config::new,
            yamux::Config::default,
        )
        .expect("transport")
        .with_behaviour(|_| -> gossipsub::Behaviour {
            gossipsub::Behaviour::new(MessageAuthenticity::Anonymous, config).expect("gossipsub")
        })
        .expect("behaviour")
        .with_swarm_config(|c| c.with_idle_connection_timeout(Duration::from_secs(60)))
        .build();
    let topic = gossipsub::IdentTopic::new(format!("buurt/v1/scope/{scope}"));
    swarm.behaviour_mut().subscribe(&topic).expect("subscribes");
    swarm.dial(target.clone()).expect("dials");
    loop {
        let ev = tokio::time::timeout_at(deadline, swarm.select_next_some()).await;
        match ev {
            Ok(SwarmEvent::Behaviour(gossipsub::Event::Subscribed { topic: t, .. }))
                if t == topic.hash() =>
            {
                return Some((swarm, topic))
            }
            Ok(_) => {}
            Err(_) => return None,
        }
    }
}

/// Connects to `target` like [`attack`] and publishes `messages` at
/// `per_second` (valid messages that the target should ignore, say),
/// draining the connection's events between them. Returns once all are
/// handed to gossipsub and `linger` has passed.
pub fn flood(
    target: &str,
    scope: &str,
    messages: Vec<Vec<u8>>,
    per_second: u32,
    linger: Duration,
) -> Report {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        let target: Multiaddr = target.parse().expect("target address");
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        let mut report = Report::default();
        let Some((mut swarm, topic)) = connected(&target, scope, deadline).await else {
            return report;
        };
        let gap = Duration::from_secs(1) / per_second.max(1);
        let mut next = tokio::time::Instant::now();
        for m in messages {
            if swarm.behaviour_mut().publish(topic.clone(), m).is_ok() {
                report.published += 1;
            }
            next += gap;
            drain(&mut swarm, next, &mut report).await;
        }
        drain(
            &mut swarm,
            tokio::time::Instant::now() + linger,
            &mut report,
        )
        .await;
        report
    })
}

/// Runs the swarm until `until`, noting a closed connection.
async fn drain(swarm: &mut HostileSwarm, until: tokio::time::Instant, report: &mut Report) {
    while let Ok(ev) = tokio::time::timeout_at(until, swarm.select_next_some()).await {
        if let SwarmEvent::ConnectionClosed {
            num_established: 0, ..
        } = ev
        {
            report.disconnected = true;
        }
    }
}

async fn run(target: Multiaddr, scope: &str, messages: Vec<Vec<u8>>, wait: Duration) -> Report {
    let mut report = Report::default();
    let deadline = tokio::time::Instant::now() + wait;
    let Some((mut swarm, topic)) = connected(&target, scope, deadline).await else {
        return report;
    };
    for m in messages {
        if swarm.behaviour_mut().publish(topic.clone(), m).is_ok() {
            report.published += 1;
        }
        // Let each message go out on its own.
        let pause = tokio::time::Instant::now() + Duration::from_millis(100);
        drain(&mut swarm, pause, &mut report).await;
    }
    while !report.disconnected {
        match tokio::time::timeout_at(deadline, swarm.select_next_some()).await {
            Ok(SwarmEvent::ConnectionClosed {
                num_established: 0, ..
            }) => report.disconnected = true,
            Ok(_) => {}
            Err(_) => return report,
        }
    }
    // Come back: a banned peer is dropped again at once.
    if swarm.dial(target).is_ok() {
        let again = tokio::time::Instant::now() + Duration::from_secs(5);
        loop {
            match tokio::time::timeout_at(again, swarm.select_next_some()).await {
                Ok(SwarmEvent::ConnectionClosed {
                    num_established: 0, ..
                })
                | Ok(SwarmEvent::OutgoingConnectionError { .. }) => {
                    report.refused_again = true;
                    break;
                }
                Ok(_) => {}
                Err(_) => break,
            }
        }
    }
    report
}

/// A codec that sends and receives raw bytes on `/buurt/sync/1`, so that
/// the hostile peer can send requests that do not decode.
#[derive(Debug, Clone, Default)]
struct RawCodec;

impl libp2p::request_response::Codec for RawCodec {
    type Protocol = libp2p::StreamProtocol;
    type Request = Vec<u8>;
    type Response = Vec<u8>;

    async fn read_request<T>(&mut self, _: &Self::Protocol, io: &mut T) -> std::io::Result<Vec<u8>>
    where
        T: libp2p::futures::AsyncRead + Unpin + Send,
    {
        use libp2p::futures::AsyncReadExt;
        let mut buf = Vec::new();
        io.take(1 << 20).read_to_end(&mut buf).await?;
        Ok(buf)
    }

    async fn read_response<T>(&mut self, p: &Self::Protocol, io: &mut T) -> std::io::Result<Vec<u8>>
    where
        T: libp2p::futures::AsyncRead + Unpin + Send,
    {
        self.read_request(p, io).await
    }

    async fn write_request<T>(
        &mut self,
        _: &Self::Protocol,
        io: &mut T,
        req: Vec<u8>,
    ) -> std::io::Result<()>
    where
        T: libp2p::futures::AsyncWrite + Unpin + Send,
    {
        use libp2p::futures::AsyncWriteExt;
        io.write_all(&req).await
    }

    async fn write_response<T>(
        &mut self,
        p: &Self::Protocol,
        io: &mut T,
        res: Vec<u8>,
    ) -> std::io::Result<()>
    where
        T: libp2p::futures::AsyncWrite + Unpin + Send,
    {
        self.write_request(p, io, res).await
    }
}

/// Connects to `target` and sends each of `requests` as a raw
/// `/buurt/sync/1` request, one every 200 ms, until it is disconnected;
/// `published` counts the requests sent. Requests the target sends are left
/// unanswered.
pub fn sync_garbage(target: &str, requests: Vec<Vec<u8>>, wait: Duration) -> Report {
    use libp2p::request_response::{self, ProtocolSupport};
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async move {
        let target: Multiaddr = target.parse().expect("target address");
        let peer = target
            .iter()
            .find_map(|p| match p {
                libp2p::multiaddr::Protocol::P2p(id) => Some(id),
                _ => None,
            })
            .expect("target has /p2p/");
        let mut swarm = libp2p::SwarmBuilder::with_new_identity()
            .with_tokio()
            .with_tcp(
                tcp::Config::default(),
                noise::Config::new,
                yamux::Config::default,
            )
            .expect("transport")
            .with_behaviour(|_| {
                request_response::Behaviour::<RawCodec>::new(
                    [(
                        libp2p::StreamProtocol::new("/buurt/sync/1"),
                        ProtocolSupport::Full,
                    )],
                    request_response::Config::default(),
                )
            })
            .expect("behaviour")
            .with_swarm_config(|c| c.with_idle_connection_timeout(Duration::from_secs(60)))
            .build();
        swarm.dial(target).expect("dials");
        let mut report = Report::default();
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            match tokio::time::timeout_at(deadline, swarm.select_next_some()).await {
                Ok(SwarmEvent::ConnectionEstablished { .. }) => break,
                Ok(_) => {}
                Err(_) => return report,
            }
        }
        for r in requests {
            if report.disconnected {
                break;
            }
            swarm.behaviour_mut().send_request(&peer, r);
            report.published += 1;
            let pause = tokio::time::Instant::now() + Duration::from_millis(200);
            while let Ok(ev) = tokio::time::timeout_at(pause, swarm.select_next_some()).await {
                if let SwarmEvent::ConnectionClosed {
                    num_established: 0, ..
                } = ev
                {
                    report.disconnected = true;
                }
            }
        }
        while !report.disconnected {
            match tokio::time::timeout_at(deadline, swarm.select_next_some()).await {
                Ok(SwarmEvent::ConnectionClosed {
                    num_established: 0, ..
                }) => report.disconnected = true,
                Ok(_) => {}
                Err(_) => break,
            }
        }
        report
    })
}
