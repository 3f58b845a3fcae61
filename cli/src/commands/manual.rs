//! `completions` and `man`: shell completion scripts and manual pages,
//! made from the same clap definitions as the commands themselves, so
//! that they cannot fall behind them.

use std::io::Write;
use std::path::Path;

use anyhow::{Context, Result};
use clap::CommandFactory;

use crate::Cli;

/// Prints the completion script of `shell` on stdout.
pub fn completions(shell: clap_complete::Shell) -> Result<()> {
    let mut out = std::io::stdout().lock();
    clap_complete::generate(shell, &mut Cli::command(), "buurt", &mut out);
    out.flush().context("writing the completion script")
}

/// Prints the manual page of `buurt` on stdout; with `dir`, writes one page
/// per command there instead (buurt.1, buurt-node.1, buurt-config-check.1,
/// …), as a package installs them.
pub fn man(dir: Option<&Path>) -> Result<()> {
    let Some(dir) = dir else {
        let mut out = std::io::stdout().lock();
        clap_mangen::Man::new(Cli::command())
            .render(&mut out)
            .context("writing the manual page")?;
        return out.flush().context("writing the manual page");
    };
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    // The command is not built first: generate_to builds it without the
    // `help` subcommand, which would otherwise get pages of its own.
    clap_mangen::generate_to(Cli::command(), dir)
        .with_context(|| format!("writing manual pages into {}", dir.display()))?;
    let pages = pages(&Cli::command());
    eprintln!("Wrote {pages} manual pages into {}", dir.display());
    Ok(())
}

/// How many pages `generate_to` writes: one per command that is not
/// hidden, with its subcommands.
fn pages(cmd: &clap::Command) -> usize {
    1 + cmd
        .get_subcommands()
        .filter(|c| !c.is_hide_set())
        .map(pages)
        .sum::<usize>()
}
