//! The node's log, on stderr: filtered by `BUURT_LOG`, else `RUST_LOG`,
//! else [`DEFAULT`]; text for people or one JSON object a line for log
//! shippers (`--log-format`); colours only on a terminal, and never when
//! `NO_COLOR` is set (no-color.org), so that log files, pipes and journald
//! get plain text.

use std::ffi::OsString;
use std::io::IsTerminal;

use tracing_subscriber::EnvFilter;

use crate::LogFormat;

/// The log filter when neither `BUURT_LOG` nor `RUST_LOG` is set: our own
/// messages at info, libp2p's at warn (its info lines speak of peer ids in
/// another form than ours).
pub const DEFAULT: &str = "info,libp2p=warn";

/// Sets the process's log subscriber.
pub fn init(format: LogFormat) {
    let filter = EnvFilter::try_from_env("BUURT_LOG")
        .or_else(|_| EnvFilter::try_from_default_env())
        .unwrap_or_else(|_| EnvFilter::new(DEFAULT));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let ansi = colours(
        std::io::stderr().is_terminal(),
        std::env::var_os("NO_COLOR"),
    );
    // Fails only when a subscriber is set already, which then keeps logging.
    let _ = match format {
        LogFormat::Text => builder.with_ansi(ansi).with_target(false).try_init(),
        LogFormat::Json => builder.json().with_ansi(false).try_init(),
    };
}

/// Colours on a terminal, unless `NO_COLOR` is set to something other than
/// the empty string.
fn colours(terminal: bool, no_color: Option<OsString>) -> bool {
    terminal && no_color.is_none_or(|v| v.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn colours_only_on_a_terminal_without_no_color() {
        assert!(colours(true, None));
        assert!(colours(true, Some("".into())));
        assert!(!colours(true, Some("1".into())));
        assert!(!colours(false, None));
        assert!(!colours(false, Some("".into())));
    }
}
