//! `/buurt/photo/1` on the event loop: a photo named by a stored listing
//! and missing here is asked of the connected peers one at a time until one
//! sends bytes that match the listing's hash and size; bytes that do not
//! match count against the peer that sent them. A round that finds it
//! nowhere is tried again later (a peer may fetch it meanwhile), a few
//! times. Peers' requests are answered from [`Photos`].

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use buurt_protocol::photo::{Request, Response};
use buurt_protocol::Photo;
use libp2p::request_response::{self, OutboundRequestId};
use libp2p::PeerId;

use super::display_peer;
use super::exchange::{self, Exchange};
use super::swarm_core::Core;
use crate::photos::{Photos, PutError};
use crate::sync::Wire;

/// Rounds over the connected peers before a photo is given up.
const ROUNDS: u32 = 6;
/// Wait after a round that found nothing, times the round's number.
const ROUND_WAIT: Duration = Duration::from_secs(2);
/// Photos wanted at once; more wait for the next listing that names them.
const MAX_WANTED: usize = 256;

struct Want {
    photo: Photo,
    tried: HashSet<PeerId>,
    round: u32,
    next: Instant,
    asking: bool,
}

/// Photos wanted, asked and served.
pub struct Darkroom {
    photos: Option<Arc<Photos>>,
    wanted: HashMap<[u8; 32], Want>,
    pending: HashMap<OutboundRequestId, ([u8; 32], PeerId)>,
}

impl Darkroom {
    pub fn new(photos: Option<Arc<Photos>>) -> Darkroom {
        Darkroom {
            photos,
            wanted: HashMap::new(),
            pending: HashMap::new(),
        }
    }

    /// A stored listing names `photo`: fetch it unless it is here.
    pub fn want(&mut self, core: &mut Core, photo: Photo) {
        let Some(photos) = &self.photos else { return };
        if photos.has(&photo.sha256)
            || self.wanted.contains_key(&photo.sha256)
            || self.wanted.len() >= MAX_WANTED
        {
            return;
        }
        self.wanted.insert(
            photo.sha256,
            Want {
                photo,
                tried: HashSet::new(),
                round: 0,
                next: Instant::now(),
                asking: false,
            },
        );
        self.pump(core);
    }

    /// Asks the next untried peer for every wanted photo that is due.
    pub fn pump(&mut self, core: &mut Core) {
        let now = Instant::now();
        let connected: Vec<PeerId> = core.peers.connected_peers().map(|(p, _)| *p).collect();
        let mut gone = Vec::new();
        for (sha, w) in self.wanted.iter_mut() {
            if w.asking || w.next > now {
                continue;
            }
            match connected.iter().find(|p| !w.tried.contains(p)) {
                Some(peer) => {
                    let id = core
                        .swarm
                        .behaviour_mut()
                        .photo
                        .send_request(peer, Ok(Request(*sha)));
                    self.pending.insert(id, (*sha, *peer));
                    w.asking = true;
                }
                None => {
                    w.round += 1;
                    w.tried.clear();
                    w.next = now + ROUND_WAIT * w.round;
                    if w.round >= ROUNDS {
                        gone.push(*sha);
                    }
                }
            }
        }
        for sha in gone {
            tracing::info!(
                "photo {} found on no peer; asked again when a listing names it",
                hex::encode(&sha[..6])
            );
            self.wanted.remove(&sha);
        }
    }

    pub fn on_event(
        &mut self,
        core: &mut Core,
        event: request_response::Event<Wire<Request>, Wire<Response>>,
    ) {
        match exchange::sort(event, "photo") {
            Exchange::Request {
                peer,
                request,
                channel,
            } => {
                let response = match (request, &self.photos) {
                    (Ok(Request(sha)), Some(p)) => {
                        p.get(&sha).map_or(Response::NotHere, Response::Photo)
                    }
                    (Ok(_), None) => Response::NotHere,
                    (Err(why), _) => {
                        tracing::debug!("malformed photo request from {peer}: {why}");
                        core.count_invalid(peer);
                        Response::NotHere
                    }
                };
                let _ = core
                    .swarm
                    .behaviour_mut()
                    .photo
                    .send_response(channel, Ok(response));
            }
            Exchange::Outcome { id, outcome } => {
                let Some((sha, peer)) = self.pending.remove(&id) else {
                    return;
                };
                let Some(w) = self.wanted.get_mut(&sha) else {
                    return;
                };
                w.asking = false;
                w.tried.insert(peer);
                if let (Ok(Response::Photo(bytes)), Some(photos)) = (outcome, &self.photos) {
                    match photos.put(&w.photo, &bytes) {
                        Ok(_) => {
                            tracing::debug!(
                                "photo {} fetched from {}",
                                hex::encode(&sha[..6]),
                                display_peer(&peer)
                            );
                            self.wanted.remove(&sha);
                        }
                        Err(PutError::Invalid(why)) => {
                            tracing::warn!("refused a photo from {}: {why}", display_peer(&peer));
                            core.count_invalid(peer);
                        }
                        Err(e) => {
                            tracing::warn!("photo {}: {e}; the listing shows without it until a peer sends it again (`buurt status` shows the photo store)", hex::encode(&sha[..6]));
                            self.wanted.remove(&sha);
                        }
                    }
                }
                self.pump(core);
            }
            Exchange::Nothing => {}
        }
    }
}
