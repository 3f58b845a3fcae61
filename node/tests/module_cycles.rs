//! Architecture check: no module cycles in `node/src`.
//!
//! Every `crate::…`, `super::…` and `self::…` path in the source (in `use`
//! trees and inline) is an edge from the module of the file it is written
//! in to the module it names. An edge between two modules counts between
//! the two siblings that hold them under their closest common ancestor
//! (`net::gossip` → `ingest::outcome` is `net` → `ingest`); an edge to an
//! ancestor or a descendant is containment, not a dependency. At every
//! level the siblings must form a graph without cycles, so that each
//! folder can be read bottom-up. `#[cfg(test)]` modules at the end of a
//! file are left out. Runs with `cargo test`, and therefore in CI.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

type Module = Vec<String>;

fn files(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).expect("reads src") {
        let p = e.expect("entry").path();
        if p.is_dir() {
            files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

/// `src/lib.rs` is the root, `src/a.rs` and `src/a/b.rs` are `a` and
/// `a::b`.
fn module_of(src: &Path, file: &Path) -> Module {
    let rel = file
        .strip_prefix(src)
        .expect("under src")
        .with_extension("");
    let m: Module = rel
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    if m == ["lib"] {
        vec![]
    } else {
        m
    }
}

/// The source without comments, and without a `#[cfg(test)]` module at
/// the end (written inline, after the code).
fn code(text: &str) -> String {
    let mut out = String::new();
    for line in text.lines() {
        let l = match line.find("//") {
            Some(i) => &line[..i],
            None => line,
        };
        out.push_str(l);
        out.push('\n');
    }
    if let Some(i) = out.find("#[cfg(test)]\nmod tests {") {
        out.truncate(i);
    }
    out
}

/// Expands a `use` tree (`crate::{a, b::{c, d}}`) into its paths.
fn expand(tree: &str) -> Vec<String> {
    let tree: String = tree.chars().filter(|c| !c.is_whitespace()).collect();
    let Some(open) = tree.find('{') else {
        return vec![tree];
    };
    let prefix = &tree[..open];
    let inner = &tree[open + 1..tree.rfind('}').expect("balanced braces")];
    let mut parts = Vec::new();
    let (mut depth, mut start) = (0, 0);
    for (i, ch) in inner.char_indices() {
        match ch {
            '{' => depth += 1,
            '}' => depth -= 1,
            ',' if depth == 0 => {
                parts.push(&inner[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(&inner[start..]);
    parts
        .into_iter()
        .filter(|p| !p.is_empty())
        .flat_map(|p| expand(p).into_iter().map(move |e| format!("{prefix}{e}")))
        .collect()
}

/// Every path starting `crate::`, `super::` or `self::` in `code`: in
/// `use` items (a line that starts with `use` or `pub … use`, up to its
/// `;`), and inline elsewhere.
fn paths(code: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut plain = String::new();
    let mut lines = code.lines();
    while let Some(line) = lines.next() {
        let t = line.trim_start();
        let t = t
            .strip_prefix("pub ")
            .or_else(|| t.strip_prefix("pub(crate) "))
            .or_else(|| t.strip_prefix("pub(super) "))
            .unwrap_or(t);
        let Some(tree) = t.strip_prefix("use ") else {
            plain.push_str(line);
            plain.push('\n');
            continue;
        };
        let mut tree = tree.to_owned();
        while !tree.contains(';') {
            match lines.next() {
                Some(l) => tree.push_str(l),
                None => break,
            }
        }
        let end = tree.find(';').unwrap_or(tree.len());
        out.extend(expand(&tree[..end]));
    }
    let bytes = plain.as_bytes();
    for start in ["crate::", "super::", "self::"] {
        let mut from = 0;
        while let Some(i) = plain[from..].find(start) {
            let at = from + i;
            from = at + start.len();
            if at > 0 && (bytes[at - 1].is_ascii_alphanumeric() || bytes[at - 1] == b'_') {
                continue;
            }
            let end = plain[at..]
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == ':'))
                .map_or(plain.len(), |e| at + e);
            out.push(plain[at..end].trim_end_matches(':').to_owned());
        }
    }
    out
}

/// The module a path names, relative to the module `here` it is written
/// in: the longest prefix that is a module of the crate.
fn target(here: &Module, path: &str, known: &BTreeSet<Module>) -> Option<Module> {
    let mut segs = path.split("::");
    let mut base: Module = match segs.next()? {
        "crate" => vec![],
        "self" => here.clone(),
        "super" => {
            let mut b = here.clone();
            b.pop();
            b
        }
        _ => return None,
    };
    let mut rest: Vec<&str> = segs.collect();
    while rest.first() == Some(&"super") {
        base.pop();
        rest.remove(0);
    }
    let mut best = base.clone();
    for s in rest {
        base.push(s.to_owned());
        if known.contains(&base) {
            best = base.clone();
        }
    }
    Some(best)
}

/// A cycle in `graph`, if there is one.
fn cycle(graph: &BTreeMap<String, BTreeSet<String>>) -> Option<Vec<String>> {
    fn visit(
        n: &str,
        graph: &BTreeMap<String, BTreeSet<String>>,
        state: &mut BTreeMap<String, u8>,
        stack: &mut Vec<String>,
    ) -> Option<Vec<String>> {
        state.insert(n.to_owned(), 1);
        stack.push(n.to_owned());
        for m in graph.get(n).into_iter().flatten() {
            match state.get(m.as_str()) {
                Some(1) => {
                    let i = stack.iter().position(|s| s == m).expect("on the stack");
                    let mut c = stack[i..].to_vec();
                    c.push(m.clone());
                    return Some(c);
                }
                Some(_) => {}
                None => {
                    if let Some(c) = visit(m, graph, state, stack) {
                        return Some(c);
                    }
                }
            }
        }
        stack.pop();
        state.insert(n.to_owned(), 2);
        None
    }
    let mut state = BTreeMap::new();
    for n in graph.keys() {
        if !state.contains_key(n) {
            if let Some(c) = visit(n, graph, &mut state, &mut Vec::new()) {
                return Some(c);
            }
        }
    }
    None
}

type Levels = BTreeMap<Module, BTreeMap<String, BTreeSet<String>>>;

/// The sibling edges at every level, with the file and path behind each.
fn levels(src: &Path) -> (Levels, BTreeMap<(String, String), String>) {
    let mut all = Vec::new();
    files(src, &mut all);
    let known: BTreeSet<Module> = all.iter().map(|f| module_of(src, f)).collect();
    let mut levels: Levels = BTreeMap::new();
    let mut why = BTreeMap::new();
    for f in &all {
        let here = module_of(src, f);
        let text = std::fs::read_to_string(f).expect("reads a source file");
        for p in paths(&code(&text)) {
            let Some(to) = target(&here, &p, &known) else {
                continue;
            };
            let common = here.iter().zip(&to).take_while(|(a, b)| a == b).count();
            if common == here.len() || common == to.len() {
                continue; // an ancestor or a descendant
            }
            let (a, b) = (here[common].clone(), to[common].clone());
            why.entry((a.clone(), b.clone()))
                .or_insert_with(|| format!("{} uses {p}", f.display()));
            levels
                .entry(here[..common].to_vec())
                .or_default()
                .entry(a)
                .or_default()
                .insert(b);
        }
    }
    (levels, why)
}

#[test]
fn node_src_has_no_module_cycles() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let (levels, why) = levels(&src);
    let top = levels
        .get(&vec![])
        .expect("the crate's modules use each other");
    let named: BTreeSet<&String> = top.keys().chain(top.values().flatten()).collect();
    assert!(
        named.len() >= 10 && top.values().map(BTreeSet::len).sum::<usize>() >= 30,
        "the check found too few edges to be reading the source: {top:?}"
    );
    for (level, graph) in &levels {
        if let Some(c) = cycle(graph) {
            let steps: Vec<String> = c
                .windows(2)
                .map(|w| why[&(w[0].clone(), w[1].clone())].clone())
                .collect();
            panic!(
                "module cycle under `{}`: {}\n{}",
                if level.is_empty() {
                    "crate".to_owned()
                } else {
                    level.join("::")
                },
                c.join(" -> "),
                steps.join("\n")
            );
        }
    }
}

#[test]
fn the_check_sees_a_cycle_when_there_is_one() {
    let dir = tempfile::tempdir().expect("temp dir");
    let src = dir.path();
    std::fs::create_dir(src.join("net")).expect("mkdir");
    std::fs::write(src.join("lib.rs"), "pub mod net;\npub mod sync;\n").expect("write");
    std::fs::write(
        src.join("net.rs"),
        "pub mod a;\npub mod b;\nuse crate::sync::{Context, session::{run}};\n",
    )
    .expect("write");
    std::fs::write(src.join("net/a.rs"), "use super::b::Thing;\n").expect("write");
    std::fs::write(
        src.join("net/b.rs"),
        "fn f() { super::a::g(); }\n#[cfg(test)]\nmod tests {\n use crate::net::a::X;\n}\n",
    )
    .expect("write");
    std::fs::write(src.join("sync.rs"), "fn f() { crate::net::a::g() }\n").expect("write");
    let (levels, _) = levels(src);
    let top = &levels[&vec![]];
    assert_eq!(top["net"], BTreeSet::from(["sync".to_owned()]));
    assert!(cycle(top).is_some(), "net -> sync -> net");
    let net = &levels[&vec!["net".to_owned()]];
    assert!(cycle(net).is_some(), "a -> b -> a");
    assert!(cycle(&BTreeMap::from([(
        "a".to_owned(),
        BTreeSet::from(["b".to_owned()])
    )]))
    .is_none());
}
