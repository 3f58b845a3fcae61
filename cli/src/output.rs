//! Human output: aligned tables and key-value blocks. `--json` output is
//! printed by the commands themselves.

use buurt_node::api::dto::ListingView;

use crate::compose::show_money;

/// Cuts text to `max` characters, marking the cut.
pub fn cut(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_owned()
    } else {
        let mut out: String = s.chars().take(max.saturating_sub(1)).collect();
        out.push('…');
        out
    }
}

/// Prints rows under a header, columns padded to their widest cell.
pub fn table(header: &[&str], rows: &[Vec<String>]) {
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for r in rows {
        for (i, c) in r.iter().enumerate() {
            widths[i] = widths[i].max(c.chars().count());
        }
    }
    let line = |cells: Vec<String>| {
        let mut out = String::new();
        for (i, c) in cells.iter().enumerate() {
            if i + 1 == cells.len() {
                out.push_str(c);
            } else {
                out.push_str(c);
                out.push_str(&" ".repeat(widths[i] - c.chars().count() + 2));
            }
        }
        println!("{}", out.trim_end());
    };
    line(header.iter().map(|h| h.to_string()).collect());
    for r in rows {
        line(r.clone());
    }
}

/// Terms in a few words: `free`, `EUR 5.00/dag`, `free, deposit EUR 20.00`.
pub fn terms(v: &ListingView) -> String {
    let mut s = match &v.terms.price {
        None => "free".to_owned(),
        Some(p) if p.unit.is_empty() => show_money(&p.amount),
        Some(p) => format!("{}/{}", show_money(&p.amount), p.unit),
    };
    if let Some(d) = &v.terms.deposit {
        s.push_str(&format!(", deposit {}", show_money(d)));
    }
    s
}

/// The date part of an RFC 3339 time.
pub fn date(rfc3339: &str) -> &str {
    rfc3339.get(..10).unwrap_or(rfc3339)
}

/// A table of listings; `score` adds a relevance column.
pub fn listings(list: &[ListingView], score: bool) {
    if list.is_empty() {
        println!("No listings found.");
        return;
    }
    let mut header = vec![
        "ID", "KIND", "EXCHANGE", "TITLE", "TERMS", "SCOPE", "STATUS", "EXPIRES",
    ];
    // How many neighbours thanked the author, where the node says.
    let thanks = list.iter().any(|v| v.thanked_by.is_some());
    if thanks {
        header.push("THANKED BY");
    }
    if score {
        header.push("SCORE");
    }
    let rows: Vec<Vec<String>> = list
        .iter()
        .map(|v| {
            let mut r = vec![
                v.id[..12].to_owned(),
                v.kind.clone(),
                v.exchange.clone(),
                cut(&v.title, 40),
                terms(v),
                cut(&v.scope, 30),
                v.status.clone(),
                date(&v.expires_at).to_owned(),
            ];
            if thanks {
                r.push(match v.thanked_by.unwrap_or(0) {
                    0 => "-".to_owned(),
                    n => n.to_string(),
                });
            }
            if score {
                r.push(format!("{:.2}", v.score.unwrap_or(0.0)));
            }
            r
        })
        .collect();
    table(&header, &rows);
}

/// One listing in full. A withdrawn one says so, and when, instead of
/// showing its emptied content.
pub fn listing(v: &ListingView) {
    let row = |k: &str, val: &str| println!("{k:>10}  {val}");
    row("id", &v.id);
    if v.status == "withdrawn" {
        row(
            "status",
            &format!(
                "withdrawn by its author on {} (its content is deleted)",
                when(&v.created_at)
            ),
        );
    } else {
        row("title", &v.title);
        row("kind", &format!("{} ({})", v.kind, v.exchange));
        row("topics", &v.topics.join(", "));
        row("terms", &terms(v));
        row("status", &v.status);
        row("near", v.geohash.as_deref().unwrap_or("-"));
        let tags = if v.tags.is_empty() {
            "-".to_owned()
        } else {
            v.tags.join(", ")
        };
        row("tags", &tags);
    }
    for (i, w) in v.availability.iter().enumerate() {
        let mut text = if w.from == w.to {
            w.from.clone()
        } else {
            format!("{} to {}", w.from, w.to)
        };
        if let Some(d) = &w.days {
            text += &format!(", {d}");
        }
        if let Some(h) = &w.hours {
            text += &format!(" {h}");
        }
        row(if i == 0 { "available" } else { "" }, &text);
    }
    if let Some(e) = &v.every {
        let period = match e.period {
            buurt_protocol::Period::Week => "every week",
            buurt_protocol::Period::Fortnight => "every two weeks",
            buurt_protocol::Period::Month => "every month",
        };
        let next = if e.paused {
            "paused".to_owned()
        } else {
            format!("next {}", e.next.join(", "))
        };
        row("standing", &format!("{period} from {}; {next}", e.first));
    }
    if let Some(b) = &v.behalf {
        row(
            "for",
            &format!(
                "{}, via {} (consent {}: {})",
                b.resident, v.author, b.consent_on, b.statement
            ),
        );
    }
    if let Some(p) = &v.photo {
        row(
            "photo",
            &format!(
                "{}, {} KB (buurt show {} --photo FILE)",
                p.media.mime(),
                p.size.div_ceil(1024),
                &v.id[..12]
            ),
        );
    }
    row("scope", &v.scope);
    row("author", &v.author);
    if let Some(n) = v.thanked_by {
        row(
            "thanked",
            &match n {
                0 => "not yet".to_owned(),
                1 => "by 1 neighbour".to_owned(),
                n => format!("by {n} neighbours"),
            },
        );
    }
    row("home node", &v.home_node);
    let first = v.first_created_at.as_deref().unwrap_or(&v.created_at);
    row("created", &when(first));
    match v.revisions.unwrap_or(1) {
        0 | 1 if first == v.created_at => {}
        n => row(
            "updated",
            &format!(
                "{} ({})",
                when(&v.created_at),
                match n.saturating_sub(1) {
                    1 => "once".to_owned(),
                    k => format!("{k} times"),
                }
            ),
        ),
    }
    if v.status != "withdrawn" {
        row("expires", &when(&v.expires_at));
    }
    if !v.body.is_empty() {
        println!();
        println!("{}", v.body);
    }
}

/// An RFC 3339 time as people read it: `2026-12-02 09:38 UTC`.
pub fn when(rfc3339: &str) -> String {
    match (rfc3339.get(..10), rfc3339.get(11..16)) {
        (Some(d), Some(t)) => format!("{d} {t} UTC"),
        _ => rfc3339.to_owned(),
    }
}
