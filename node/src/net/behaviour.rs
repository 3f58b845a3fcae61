//! The protocols a node speaks, and how its swarm is built: TCP + Noise +
//! Yamux, gossipsub (anonymous, content-addressed ids, manual validation),
//! identify, ping, optional mDNS, `/buurt/sync/1`, `/buurt/mail/1` and
//! `/buurt/photo/1`; and for reach (`reach.rs`) the relay client, DCUtR,
//! the AutoNAT v2 client and the rendezvous client, with the relay,
//! AutoNAT and rendezvous servers on a hub.

use std::time::Duration;

use libp2p::gossipsub::{self, MessageAuthenticity, ValidationMode};
use libp2p::request_response::{self, ProtocolSupport};
use libp2p::swarm::behaviour::toggle::Toggle;
use libp2p::swarm::NetworkBehaviour;
use libp2p::{
    autonat, dcutr, identify, identity, mdns, noise, ping, relay, rendezvous, tcp, yamux,
    Multiaddr, PeerId, Swarm,
};
use sha2::{Digest, Sha256};

use super::{
    reply_key_topic, revocation_topic, thanks_topic, topic, vouch_topic, NetConfig, NetError,
    MAX_MESSAGE, MESH_N, SYNC_TIMEOUT,
};
use crate::sync::SyncCodec;

/// How long a connection with nothing going on stays open.
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(120);

#[derive(NetworkBehaviour)]
pub struct Behaviour {
    pub gossipsub: gossipsub::Behaviour,
    pub identify: identify::Behaviour,
    pub ping: ping::Behaviour,
    pub mdns: Toggle<mdns::tokio::Behaviour>,
    pub sync: request_response::Behaviour<SyncCodec>,
    pub mail: request_response::Behaviour<crate::mail::codec::MailCodec>,
    pub photo: request_response::Behaviour<crate::photos::codec::PhotoCodec>,
    pub relay_client: relay::client::Behaviour,
    pub dcutr: dcutr::Behaviour,
    pub autonat: autonat::v2::client::Behaviour,
    pub rendezvous: rendezvous::client::Behaviour,
    /// The hub's servers.
    pub relay: Toggle<relay::Behaviour>,
    pub autonat_server: Toggle<autonat::v2::server::Behaviour>,
    pub rendezvous_server: Toggle<rendezvous::server::Behaviour>,
}

/// Refuses a TCP port another process listens on. libp2p's TCP transport
/// binds its listeners with `SO_REUSEPORT`, so a second node on the same
/// port would share it silently (the kernel splitting connections between
/// the two) instead of failing; a plain bind, which never shares, tells.
/// Port 0 (any free port) always passes.
fn port_is_free(addr: &Multiaddr) -> Result<(), String> {
    use libp2p::multiaddr::Protocol;
    let mut ip = None;
    let mut port = None;
    for p in addr.iter() {
        match p {
            Protocol::Ip4(a) => ip = Some(std::net::IpAddr::V4(a)),
            Protocol::Ip6(a) => ip = Some(std::net::IpAddr::V6(a)),
            Protocol::Tcp(p) => port = Some(p),
            _ => {}
        }
    }
    let (Some(ip), Some(port)) = (ip, port) else {
        return Ok(());
    };
    if port == 0 {
        return Ok(());
    }
    match std::net::TcpListener::bind((ip, port)) {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AddrInUse => Err(format!(
            "port {port} is in use (is another buurt node running? give this one another \
             port with --listen /ip4/0.0.0.0/tcp/{})",
            port.saturating_add(1)
        )),
        Err(e) => Err(e.to_string()),
    }
}

/// Builds the swarm, subscribes to the scopes' topics and starts listening.
/// Returns the swarm and the local peer id.
pub fn build(
    cfg: &NetConfig,
    known: Option<super::hub::Known>,
    metrics: Option<&mut libp2p::metrics::Registry>,
) -> Result<(Swarm<Behaviour>, PeerId), NetError> {
    let mut seed = cfg.node_key;
    let keypair = identity::Keypair::ed25519_from_bytes(&mut seed)
        .map_err(|e| NetError::Key(e.to_string()))?;
    let local = keypair.public().to_peer_id();
    let gossip_config = gossipsub::ConfigBuilder::default()
        .validation_mode(ValidationMode::Anonymous)
        .validate_messages()
        .max_transmit_size(MAX_MESSAGE)
        .message_id_fn(|m: &gossipsub::Message| {
            gossipsub::MessageId::from(Sha256::digest(&m.data).to_vec())
        })
        .heartbeat_interval(Duration::from_millis(700))
        .mesh_n(MESH_N)
        .mesh_n_low(MESH_N - 1)
        .mesh_n_high(2 * MESH_N)
        .mesh_outbound_min(MESH_N / 2)
        .build()
        .map_err(|e| NetError::Setup(e.to_string()))?;
    let mdns_on = cfg.mdns;
    let serve = cfg.serve_hub;
    let mut swarm =
        libp2p::SwarmBuilder::with_existing_identity(keypair)
            .with_tokio()
            .with_tcp(
                tcp::Config::default().nodelay(true),
                noise::Config::new,
                yamux::Config::default,
            )
            .map_err(|e| NetError::Setup(e.to_string()))?
            .with_relay_client(noise::Config::new, yamux::Config::default)
            .map_err(|e| NetError::Setup(e.to_string()))?
            .with_behaviour(|key, relay_client| {
                let mut gossipsub =
                    gossipsub::Behaviour::new(MessageAuthenticity::Anonymous, gossip_config)?;
                if let Some(registry) = metrics {
                    gossipsub = gossipsub.with_metrics(
                        registry.sub_registry_with_prefix("libp2p_gossipsub"),
                        Default::default(),
                    );
                }
                let identify = identify::Behaviour::new(
                    identify::Config::new("/buurt/1".into(), key.public())
                        .with_agent_version(format!("buurt/{}", env!("CARGO_PKG_VERSION"))),
                );
                // Local discovery is a convenience: a host without multicast
                // still federates through configured peers.
                let mdns = if mdns_on {
                    match mdns::tokio::Behaviour::new(
                        mdns::Config::default(),
                        key.public().to_peer_id(),
                    ) {
                        Ok(m) => Some(m),
                        Err(e) => {
                            tracing::warn!(
                                "mDNS is unavailable ({e}); running without local discovery"
                            );
                            None
                        }
                    }
                } else {
                    None
                };
                let sync = request_response::Behaviour::new(
                    [(crate::sync::PROTOCOL, ProtocolSupport::Full)],
                    request_response::Config::default()
                        .with_request_timeout(SYNC_TIMEOUT)
                        .with_max_concurrent_streams(16),
                );
                let mail = request_response::Behaviour::new(
                    [(crate::mail::codec::PROTOCOL, ProtocolSupport::Full)],
                    request_response::Config::default()
                        .with_request_timeout(super::MAIL_TIMEOUT)
                        .with_max_concurrent_streams(64),
                );
                let photo = request_response::Behaviour::new(
                    [(crate::photos::codec::PROTOCOL, ProtocolSupport::Full)],
                    request_response::Config::default()
                        .with_request_timeout(crate::photos::codec::TIMEOUT)
                        .with_max_concurrent_streams(16),
                );
                let local = key.public().to_peer_id();
                let hub = |on: bool| on.then_some(());
                Ok(Behaviour {
                    relay_client,
                    dcutr: dcutr::Behaviour::new(local),
                    autonat: autonat::v2::client::Behaviour::default(),
                    rendezvous: rendezvous::client::Behaviour::new(key.clone()),
                    relay: Toggle::from(
                        hub(serve)
                            .map(|_| relay::Behaviour::new(local, super::hub::relay_config(known))),
                    ),
                    autonat_server: Toggle::from(
                        hub(serve).map(|_| autonat::v2::server::Behaviour::default()),
                    ),
                    rendezvous_server: Toggle::from(hub(serve).map(|_| {
                        rendezvous::server::Behaviour::new(super::hub::rendezvous_config())
                    })),
                    mail,
                    photo,
                    gossipsub,
                    identify,
                    ping: ping::Behaviour::default(),
                    mdns: Toggle::from(mdns),
                    sync,
                })
            })
            .map_err(|e| NetError::Setup(e.to_string()))?
            .with_swarm_config(|c| c.with_idle_connection_timeout(IDLE_TIMEOUT))
            .build();
    for t in cfg.scopes.iter().map(topic).chain([
        revocation_topic(),
        reply_key_topic(),
        vouch_topic(),
        thanks_topic(),
    ]) {
        swarm
            .behaviour_mut()
            .gossipsub
            .subscribe(&t)
            .map_err(|e| NetError::Setup(e.to_string()))?;
    }
    for l in &cfg.listen {
        let addr: Multiaddr = l.parse().map_err(|_| crate::ids::BadAddress(l.clone()))?;
        port_is_free(&addr).map_err(|message| NetError::Listen {
            addr: l.clone(),
            message,
        })?;
        swarm.listen_on(addr).map_err(|e| NetError::Listen {
            addr: l.clone(),
            message: e.to_string(),
        })?;
    }
    Ok((swarm, local))
}
