//! `buurt`: run a neighbourhood sharing node, and post, find and manage
//! listings on it from the command line.

mod args;
mod client;
mod commands;
mod compose;
mod extras;
mod letters;
mod output;
mod photo;
mod progress;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

pub use args::*;

/// jemalloc rather than the system allocator: ingest allocates and frees
/// many small buffers on several threads at once (see docs/performance.md).
#[global_allocator]
static ALLOC: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

/// The heading under which `--help` lists the options every command takes.
const GLOBAL: &str = "Global options";

/// What `buurt --version` says: the version and the git commit it was
/// built from ("unknown" outside a git checkout; see build.rs).
const VERSION: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    " (commit ",
    env!("BUURT_COMMIT"),
    ")"
);

/// Share things, meals and help with your neighbours, on a node no company can switch off.
#[derive(Parser, Debug)]
#[command(
    name = "buurt",
    version = VERSION,
    propagate_version = true,
    max_term_width = 100
)]
pub struct Cli {
    /// Data directory [default: $BUURT_DIR, else the platform data directory]
    #[arg(long, global = true, value_name = "DIR", help_heading = GLOBAL)]
    pub data_dir: Option<PathBuf>,
    /// Print one JSON document instead of text (for `node`: one line with
    /// the API address, node id and scope once it is ready)
    #[arg(long, global = true, help_heading = GLOBAL)]
    pub json: bool,
    /// The node's API: where `buurt node` listens (HOST:PORT), or which node
    /// the other commands talk to (HOST:PORT or URL; also $BUURT_API)
    #[arg(long, global = true, value_name = "ADDR", help_heading = GLOBAL)]
    pub api: Option<String>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Create keys and config in the data directory (never overwrites keys)
    Init {
        /// Neighbourhood scope, e.g. nl/amsterdam/oost/dapperbuurt
        #[arg(long)]
        scope: String,
        /// A name for this node, shown in status
        #[arg(long)]
        name: Option<String>,
    },
    /// Run the node in the foreground until Ctrl-C or SIGTERM
    #[command(after_help = NODE_HELP)]
    Node(NodeArgs),
    /// Check config.toml, or show the configuration a node runs with and
    /// where each value comes from
    Config {
        #[command(subcommand)]
        action: ConfigAction,
    },
    /// Print a shell's completion script, e.g. `buurt completions bash >
    /// /usr/share/bash-completion/completions/buurt`
    Completions {
        /// bash, zsh, fish, elvish or powershell
        shell: clap_complete::Shell,
    },
    /// Print the manual page (roff), e.g. `buurt man | man -l -`; or write
    /// one page per command into a folder
    Man {
        /// Write buurt.1, buurt-node.1, … into DIR instead
        #[arg(long, value_name = "DIR")]
        dir: Option<PathBuf>,
        /// The same as --dir DIR
        #[arg(value_name = "DIR", conflicts_with = "dir")]
        into: Option<PathBuf>,
    },
    /// Offer something: a thing to lend or give, a meal, help
    Offer(PostArgs),
    /// Ask for something: a thing to borrow, a ride, help
    Request(PostArgs),
    /// Search listings (open ones, unless --all)
    Search(SearchArgs),
    /// Show one listing
    Show {
        /// Listing id, or any unique prefix of it
        id: String,
        /// Save the listing's photo to FILE (fetched from peers if needed)
        #[arg(long, value_name = "FILE")]
        photo: Option<PathBuf>,
    },
    /// Your own page in the browser: post, change and withdraw your
    /// listings, read and answer your letters; served by this program on
    /// 127.0.0.1 only, signing with your key here
    Ui {
        /// Port on 127.0.0.1 [default: any free one]
        #[arg(long, default_value_t = 0)]
        port: u16,
        /// Open the page in the browser (xdg-open)
        #[arg(long)]
        open: bool,
    },
    /// Renew your standing offers that expire within a week (or the one
    /// given): a new revision with a fresh expiry; `buurt node` does this
    /// by itself while it runs
    Renew {
        /// Listing id, or any unique prefix of it [default: every due one]
        id: Option<String>,
    },
    /// Pause a standing offer: not found by search and not renewed until
    /// `buurt resume`
    Pause {
        /// Listing id, or any unique prefix of it
        id: String,
    },
    /// Resume a paused standing offer
    Resume {
        /// Listing id, or any unique prefix of it
        id: String,
    },
    /// Answer a listing, or a conversation: an end-to-end encrypted letter
    /// to the other member, delivered to their home node
    Reply {
        /// Listing id or conversation id (from `buurt inbox`), or any unique
        /// prefix of either
        id: String,
        /// What to write (at most 4,000 bytes)
        text: String,
    },
    /// Report a listing to the operator of its author's home node (once per
    /// listing), delivered end-to-end encrypted like a reply
    Report {
        /// Listing id, or any unique prefix of it
        id: String,
        /// spam, unsafe, illegal or other
        reason: String,
        /// What the operator should know
        #[arg(long, default_value = "")]
        note: String,
    },
    /// The reports of this node's listings: per listing, how many members
    /// reported it, why, from which nodes (operator)
    Reports,
    /// Your conversations, newest first; * marks unread letters
    Inbox,
    /// One whole conversation, both sides, opened on this device
    Thread {
        /// Conversation id (from `buurt inbox`) or a listing id, or a unique
        /// prefix
        id: String,
    },
    /// Propose an agreement about a listing: to its author, or (the author)
    /// to the member of a conversation about it; sent sealed in the
    /// conversation
    Propose(ProposeArgs),
    /// Your running agreements (all with --all), with the next step of each
    Agreements {
        /// Also those that ended (declined, cancelled, completed)
        #[arg(long)]
        all: bool,
    },
    /// Accept an agreement proposed to you; your listing becomes reserved
    Accept {
        /// Agreement id, or a unique prefix of at least 4 characters
        agreement: String,
        /// Keep your listing open while it runs (a standing offer)
        #[arg(long)]
        keep_open: bool,
    },
    /// Decline an agreement proposed to you
    Decline {
        /// Agreement id, or a unique prefix
        agreement: String,
    },
    /// Cancel an agreement before the handover
    Cancel {
        /// Agreement id, or a unique prefix
        agreement: String,
    },
    /// Confirm the handover (or, for help, that it started); both confirm
    Handover {
        /// Agreement id, or a unique prefix
        agreement: String,
    },
    /// Confirm that a lent or rented thing came back; both confirm
    Return {
        /// Agreement id, or a unique prefix
        agreement: String,
    },
    /// Confirm that it is done (given, sold, eaten, helped); both confirm
    Done {
        /// Agreement id, or a unique prefix
        agreement: String,
        /// Hours of help, for help: 2, 1.5
        #[arg(long)]
        hours: Option<String>,
    },
    /// Say that something is wrong; both see it and the agreement stays open
    Problem {
        /// Agreement id, or a unique prefix
        agreement: String,
        /// What is wrong
        note: String,
    },
    /// Thank the other member of a completed agreement: public once they
    /// thanked you too, or after 7 days
    Thank {
        /// Agreement id, or a unique prefix
        agreement: String,
        /// A short word of thanks (at most 500 bytes)
        text: String,
    },
    /// Alerts: saved searches on your node that tell you of new listings
    /// that match, however they arrive
    Watch {
        #[command(subcommand)]
        action: WatchAction,
    },
    /// The listings that matched your watches since you last looked
    Notifications {
        /// All that are kept (the newest 500), not only the new ones
        #[arg(long)]
        all: bool,
    },
    /// A member's thanks, as this node counts them
    Member {
        /// Member id (bm…)
        member_id: String,
    },
    /// Where a letter you sent stands: queued, delivered, or failed and why
    Mail {
        /// The letter's id, as `buurt reply --json` shows it
        id: String,
    },
    /// List your own listings
    Mine,
    /// Change one of your listings (a new signed revision)
    Update(UpdateArgs),
    /// Withdraw one of your listings: its content is deleted everywhere
    Withdraw {
        /// Listing id, or any unique prefix of it
        id: String,
    },
    /// Node id, scope, addresses, peers, listing count
    Status,
    /// Connected peers
    Peers,
    /// Catch up with peers now (it also happens at connect and every few minutes)
    Sync {
        /// Only with this peer (node id bn… as `buurt peers` shows it, or 12D3Koo…)
        #[arg(long)]
        peer: Option<String>,
        /// Start the sessions and return, without following them to their end
        #[arg(long)]
        no_wait: bool,
    },
    /// This member's id and certificate (creates a member key if there is none)
    Id,
    /// Rebuild the search index from the store
    Reindex,
    /// Verify the database against its watermark, every record, and the
    /// search index (the node must be stopped; changes nothing)
    Check,
    /// Keep what is intact of a damaged database and list what it lost;
    /// catch-up sync then fetches that from peers (the node must be stopped)
    Repair,
    /// Copy this node's listings, keys, config and lists into a new folder;
    /// works while the node runs (writes pause meanwhile)
    Backup {
        /// A new or empty folder
        dir: PathBuf,
    },
    /// Put a backup back into a new data directory (--data-dir; the node
    /// stopped): every listing goes through validation again
    Restore {
        /// A folder made by `buurt backup`
        dir: PathBuf,
    },
    /// Keep a member's listings, or those of every member of a node (and the
    /// mail that node sends), off this node (operator); a member blocked is
    /// also kept out of your own mail (anyone)
    Block {
        /// A member id (bm…) or a node id (bn…)
        target: String,
        /// Why, for the record
        #[arg(long, default_value = "")]
        reason: String,
    },
    /// Lift a block (operator only)
    Unblock {
        /// The member id or node id that was blocked
        target: String,
    },
    /// List the blocks (operator only)
    Blocks,
    /// Accept the members of another node under the allowlist policy
    /// (operator only)
    Trust {
        /// The node's id (bn…, or its libp2p form 12D3Koo…), as `buurt peers` or
        /// its `buurt status` shows it
        node_id: String,
        /// Said with the public vouch, e.g. who runs that node (at most 140 bytes)
        #[arg(long)]
        note: Option<String>,
    },
    /// Stop accepting a node's members under the allowlist policy (operator
    /// only)
    Untrust {
        /// The node's id (bn…, or its libp2p form 12D3Koo…)
        node_id: String,
    },
    /// The federation policy and the trusted nodes (operator only)
    Trusted,
    /// Admit a resident: issue their membership certificate (operator only)
    Admit {
        /// The resident's member id (bm…), from their `buurt id`
        member_id: String,
        /// A name for the member list
        #[arg(long, default_value = "")]
        name: String,
        /// Their scope [default: this node's]
        #[arg(long)]
        scope: Option<String>,
        /// How long the membership runs: 90d, 52w, 1y
        #[arg(long, default_value = "1y")]
        valid: String,
        /// Also let them post for residents without a device (`buurt broker`)
        #[arg(long)]
        broker: bool,
    },
    /// Private circles: listings for named members only, sealed to each of
    /// them and never gossiped
    Circle {
        #[command(subcommand)]
        action: CircleAction,
    },
    /// Brokers post listings for residents who have no device, with their
    /// consent recorded in the listing (operator only)
    Broker {
        #[command(subcommand)]
        action: BrokerAction,
    },
    /// The residents this node admitted (operator only)
    Members,
    /// What sharing did for the neighbourhood, publishable without
    /// exposing anyone: offers and requests, requests answered (operator
    /// only)
    Impact(ImpactArgs),
    /// How many letters and bytes wait in each member's mailbox (operator
    /// only; what they say is sealed to the member)
    Mailboxes,
    /// End a resident's membership: every node that hears of it drops their
    /// listings (operator only)
    Revoke {
        /// The member id (bm…)
        member_id: String,
    },
    /// List the topics listings can have
    Topics,
    /// Also keep and receive the listings of SCOPE (taken up at the next start)
    Follow {
        /// A scope outside this node's own path, e.g. nl/amsterdam/west
        scope: String,
    },
    /// Stop following SCOPE (taken up at the next start)
    Unfollow {
        /// A scope added with `buurt follow`
        scope: String,
    },
}

/// The part of `buurt node --help` after the options.
const NODE_HELP: &str = "\
Defaults:
  API          127.0.0.1:4747 (--api HOST:PORT; loopback only unless you say otherwise)
  libp2p       /ip4/0.0.0.0/tcp/4001 (--listen MULTIADDR)
  reach        behind NAT, give a hub (--hub MULTIADDR); `buurt status` says how others reach this node
  config       config.toml in the data directory (scope, name, follow, peers, limits, policy);
               `buurt config check` checks it, `buurt config show` shows what a node runs with
  data         $BUURT_DIR, else the platform data directory (--data-dir DIR)
  logging      info, to stderr; set BUURT_LOG or RUST_LOG (e.g. BUURT_LOG=debug); one JSON
               object a line with --log-format json; no colours off a terminal or with NO_COLOR

Examples:
  buurt node --scope nl/amsterdam/oost/dapperbuurt --name Dapperbuurt
      first start: create keys and config for the Dapperbuurt, then run
  buurt --data-dir ~/buurt2 --api 127.0.0.1:4748 node --listen /ip4/0.0.0.0/tcp/4002 \\
      --peer /ip4/192.0.2.7/tcp/4001/p2p/12D3KooW…
      a second node on the same machine, federating with another one";

fn main() -> ExitCode {
    #[cfg(unix)]
    // SAFETY: called first thing, before any thread exists; restores the
    // default action so that `buurt status | head -1` ends quietly, like
    // other Unix tools, instead of panicking on a closed pipe.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    let cli = Cli::parse();
    match commands::run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            let chain: Vec<String> = e.chain().map(|c| c.to_string()).collect();
            let mut line = chain.join(": ");
            line = line.replace('\n', " ");
            eprintln!("buurt: {line}");
            ExitCode::FAILURE
        }
    }
}
