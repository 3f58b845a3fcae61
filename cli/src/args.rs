//! The arguments of the commands that take many: running a node, its
//! config, posting, searching, watches, agreements and updates.

use std::path::PathBuf;

use clap::{Args, Subcommand};

#[derive(Args, Debug)]
pub struct NodeArgs {
    #[command(flatten)]
    pub net: NetArgs,
    /// Neighbourhood scope for a new data directory, e.g.
    /// nl/amsterdam/oost/dapperbuurt [default: local, a placeholder]
    #[arg(long)]
    pub scope: Option<String>,
    /// The node's name, shown by `buurt status` (kept in config.toml)
    #[arg(long)]
    pub name: Option<String>,
    /// How the log lines on stderr look: text for people, json for log
    /// shippers (one object a line: timestamp, level, fields, target)
    #[arg(long, value_enum, default_value_t = LogFormat::Text, value_name = "FORMAT")]
    pub log_format: LogFormat,
}

/// `buurt node --log-format`.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum LogFormat {
    Text,
    Json,
}

/// The flags of `buurt node` that override config.toml; `buurt config
/// show` takes them too, to show what a node started with them runs with.
#[derive(Args, Debug, Default)]
pub struct NetArgs {
    /// libp2p listen address, repeatable [default: /ip4/0.0.0.0/tcp/4001,
    /// or `listen` in config.toml]
    #[arg(long, value_name = "MULTIADDR")]
    pub listen: Vec<String>,
    /// Peer to connect to, repeatable: the address `buurt status` shows on
    /// that node (/ip4/…/tcp/…/p2p/…; the node id may be given as bn… or
    /// 12D3…)
    #[arg(long, value_name = "MULTIADDR")]
    pub peer: Vec<String>,
    /// Hub to be reachable through and to find the other nodes of this
    /// scope at, repeatable: a node with a public address run with
    /// --serve-hub (/ip4/…/tcp/4001/p2p/bn…; or `hubs` in config.toml)
    #[arg(long, value_name = "MULTIADDR")]
    pub hub: Vec<String>,
    /// Serve as a hub for nodes behind NAT: relay, reachability checks
    /// and discovery (only on a machine with a public address; or
    /// `hub = true` in config.toml)
    #[arg(long)]
    pub serve_hub: bool,
    /// Do not discover peers on the local network
    #[arg(long)]
    pub no_mdns: bool,
}

#[derive(Subcommand, Debug)]
pub enum ConfigAction {
    /// Check config.toml: every unknown key (with the nearest valid one),
    /// every value of the wrong type, and what a node would refuse; exits
    /// 1 on any
    Check {
        /// The file to check [default: config.toml in the data directory]
        #[arg(long, value_name = "FILE")]
        file: Option<PathBuf>,
    },
    /// The configuration a node runs with: every key, its value, and where
    /// it came from (default, file, flag); give the flags you give `buurt
    /// node`
    Show {
        #[command(flatten)]
        net: NetArgs,
    },
}

#[derive(Args, Debug)]
pub struct PostArgs {
    /// Short title, e.g. "Boormachine te leen"
    pub title: String,
    /// Longer description
    #[arg(long)]
    pub body: Option<String>,
    /// give, lend, rent, sell, help, meal or swap [default: give for offers, help for requests]
    #[arg(long)]
    pub exchange: Option<String>,
    /// Topic key or label, up to 3 (see `buurt topics`) [default: other]
    #[arg(long)]
    pub topic: Vec<String>,
    /// Free tag, up to 10
    #[arg(long)]
    pub tag: Vec<String>,
    /// Price, e.g. 5, €2,50, "5/dag" [default: free]
    #[arg(long)]
    pub price: Option<String>,
    /// Deposit asked, e.g. 20
    #[arg(long)]
    pub deposit: Option<String>,
    /// How long the listing runs: 12h, 3d, 2w (at most 90 days)
    #[arg(long, default_value = "30d")]
    pub expires: String,
    /// Scope to post to [default: your certificate's scope]
    #[arg(long)]
    pub scope: Option<String>,
    /// Coarse location, a geohash of at most 6 characters (about 1 km)
    #[arg(long)]
    pub geohash: Option<String>,
    /// When it can be had, repeatable (at most 8): 2026-12-20..2026-12-23,
    /// "ma-vr 18:00-22:00", "2026-12-20..2026-12-31 za,zo" [default:
    /// whenever it is open]
    #[arg(long, value_name = "WHEN")]
    pub available: Vec<String>,
    /// A standing offer, back every week, 2w or month; renewed before it
    /// expires while your `buurt node` runs, or by `buurt renew`
    #[arg(long, value_parser = ["week", "2w", "month"])]
    pub every: Option<String>,
    /// The weekday of a standing offer: ma, di, wo, do, vr, za, zo (or
    /// mon … sun) [default: today]
    #[arg(long, requires = "every", value_name = "DAY")]
    pub on: Option<String>,
    /// Brokers: post for a resident without a device, named by first name
    /// or initials ("mevrouw J."), never contact details; replies come to you
    #[arg(long = "for", value_name = "NAME", requires = "consent")]
    pub for_resident: Option<String>,
    /// With --for: how the resident agreed, in your words ("vroeg dit aan de
    /// telefoon")
    #[arg(long, requires = "for_resident", value_name = "STATEMENT")]
    pub consent: Option<String>,
    /// With --for: the day the resident agreed, YYYY-MM-DD [default: today]
    #[arg(long, requires = "for_resident", value_name = "DATE")]
    pub consent_on: Option<String>,
    /// One photo: JPEG, PNG or WebP of at most 300 KB; its location and
    /// camera tags are removed on this device before it is sent
    #[arg(long, value_name = "FILE")]
    pub photo: Option<PathBuf>,
    /// Only for the members of this private circle (its name or id; see
    /// `buurt circle`): sealed to each of them, never gossiped
    #[arg(long, value_name = "CIRCLE")]
    pub circle: Option<String>,
}

#[derive(Args, Debug)]
pub struct SearchArgs {
    /// Words to look for (Dutch or English; typos are forgiven)
    pub query: Vec<String>,
    /// Only offers
    #[arg(long, conflicts_with = "requests")]
    pub offers: bool,
    /// Only requests
    #[arg(long)]
    pub requests: bool,
    /// Only this exchange: give, lend, rent, sell, help, meal, swap
    #[arg(long)]
    pub exchange: Option<String>,
    /// Only this topic or topic group (goods.tools, goods, help)
    #[arg(long)]
    pub topic: Option<String>,
    /// Only this scope and below
    #[arg(long)]
    pub scope: Option<String>,
    /// Only near this geohash
    #[arg(long, value_name = "GEOHASH")]
    pub near: Option<String>,
    /// Most results
    #[arg(long, default_value_t = 20)]
    pub limit: usize,
    /// Include reserved and closed listings (expired ones are gone)
    #[arg(long)]
    pub all: bool,
    /// Only what can be had on this day: YYYY-MM-DD
    #[arg(long, value_name = "DATE")]
    pub available: Option<String>,
    /// Search your private circles' listings instead (all circles, or the
    /// one named), opened on this device
    #[arg(long, value_name = "CIRCLE", num_args = 0..=1, default_missing_value = "")]
    pub circle: Option<String>,
}

#[derive(Subcommand, Debug)]
pub enum WatchAction {
    /// Watch for listings with all these words (stemmed as search does)
    Add {
        /// The words, e.g. "boormachine"; may be empty with a filter
        #[arg(default_value = "")]
        text: String,
        /// Only this topic or group (see `buurt topics`)
        #[arg(long)]
        topic: Option<String>,
        /// Only offers or only requests
        #[arg(long, value_parser = ["offer", "request"])]
        kind: Option<String>,
        /// Only near this geohash (at most 6 characters)
        #[arg(long)]
        near: Option<String>,
    },
    /// Your watches
    List,
    /// Stop a watch
    Remove {
        /// The watch's number, from `buurt watch list`
        id: u64,
    },
}

#[derive(Args, Debug)]
pub struct ProposeArgs {
    /// Listing id, or a conversation id (from `buurt inbox`), or a unique
    /// prefix of either
    pub id: String,
    /// From when: 3d (from now), 2026-12-05 or 2026-12-05T14:00 (UTC)
    #[arg(long)]
    pub from: Option<String>,
    /// Until when (a lent thing is due back): same forms as --from
    #[arg(long)]
    pub until: Option<String>,
    /// Hours of help foreseen: 2, 1.5
    #[arg(long)]
    pub hours: Option<String>,
    /// Price agreed: 5, 2.50, €2,50
    #[arg(long)]
    pub price: Option<String>,
    /// Deposit, returned when the thing comes back: 20, €20
    #[arg(long)]
    pub deposit: Option<String>,
    /// A note for the other member
    #[arg(long)]
    pub note: Option<String>,
    /// Keep your own listing open while agreements run (a standing offer)
    #[arg(long)]
    pub keep_open: bool,
}

#[derive(Args, Debug)]
pub struct UpdateArgs {
    /// Listing id, or any unique prefix of it
    pub id: String,
    /// New status: reserved while an exchange is agreed, closed when done,
    /// open again (to withdraw, use `buurt withdraw`)
    #[arg(long, value_parser = ["open", "reserved", "closed"])]
    pub status: Option<String>,
    /// New title
    #[arg(long)]
    pub title: Option<String>,
    /// New description (replaces the old one)
    #[arg(long)]
    pub body: Option<String>,
    /// New lifetime from now: 12h, 3d, 2w (at most 90 days)
    #[arg(long)]
    pub expires: Option<String>,
    /// New availability, replacing the old, repeatable: same forms as for
    /// `buurt offer`; "always" for whenever it is open
    #[arg(long, value_name = "WHEN")]
    pub available: Vec<String>,
}

#[derive(Subcommand, Debug)]
pub enum BrokerAction {
    /// Let a member post listings for residents without a device
    Add {
        /// The member id (bm…)
        member_id: String,
    },
    /// Take the broker role back
    Remove {
        /// The member id (bm…)
        member_id: String,
    },
}

#[derive(Subcommand, Debug)]
pub enum CircleAction {
    /// Make a circle of helpers; its key goes to each member, sealed
    Create {
        /// The circle's name, e.g. "Hulp voor mevrouw Jansen"
        name: String,
        /// A member: bm…, or bm…@bn… with their home node; repeatable
        #[arg(long, required = true)]
        member: Vec<String>,
    },
    /// Add a member (owner only): a new key for the members from now on
    Add {
        /// The circle's name or id
        circle: String,
        /// bm…, or bm…@bn…
        member: String,
    },
    /// Remove a member (owner only): a new key they do not get
    Remove {
        /// The circle's name or id
        circle: String,
        /// bm…
        member: String,
    },
    /// The circles on this device
    List,
}

#[derive(Args, Debug)]
pub struct ImpactArgs {
    /// First month counted, YYYY-MM (a date counts its whole month)
    /// [default: eleven months before --until]
    #[arg(long)]
    pub since: Option<String>,
    /// Last month counted, YYYY-MM [default: this month]
    #[arg(long)]
    pub until: Option<String>,
    /// Rows by topic group, month or quarter
    #[arg(long, value_parser = ["topic", "month", "quarter"])]
    pub by: Option<String>,
    /// Only this scope and below [default: all this node holds]
    #[arg(long)]
    pub scope: Option<String>,
    /// table, json, csv or svg (the ask/offer balance and the funnel per
    /// topic group, as a picture)
    #[arg(long, default_value = "table", value_parser = ["table", "json", "csv", "svg"])]
    pub format: String,
    /// Write to FILE instead of stdout
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// A member: leave your agreements out of the figures
    #[arg(long, conflicts_with = "opt_in")]
    pub opt_out: bool,
    /// A member: count your agreements again
    #[arg(long)]
    pub opt_in: bool,
    /// A member: send your agreements to your node now (it also happens
    /// whenever `buurt agreements` runs) and say how many it took
    #[arg(long, conflicts_with_all = ["opt_out", "opt_in"])]
    pub report: bool,
}
