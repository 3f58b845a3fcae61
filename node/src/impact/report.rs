//! From the ledger's facts to published tables, under the rules: a cell
//! is shown only if at least `min_residents` distinct residents stand
//! behind it, shown counts are rounded to the nearest `round_to`, and when
//! exactly one cell of a column is hidden while the column's total is shown,
//! the smallest other cell of that column is hidden too (so that the hidden
//! one cannot be recomputed from the total).

use std::collections::{BTreeMap, BTreeSet};

use buurt_protocol::calendar::{self, Day};
use buurt_protocol::Kind;
use serde::{Deserialize, Serialize};

mod table;

use super::{groups, Deal, Fact};
use table::{add_member, median, Table, Tally, TOTAL};

/// The publication rules; written into every export.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Rules {
    pub min_residents: usize,
    pub round_to: u64,
}

impl Default for Rules {
    fn default() -> Self {
        Rules {
            min_residents: 10,
            round_to: 5,
        }
    }
}

impl Rules {
    /// The rules in words, for every export's header.
    pub fn describe(&self) -> String {
        format!(
            "a cell is shown only if at least {} distinct residents stand behind it; counts are \
             rounded to the nearest {}; when one cell of a column is hidden and the column's total \
             is shown, the smallest other cell of that column is hidden too; medians are in whole \
             hours; no member ids, texts, places or times finer than a month",
            self.min_residents, self.round_to
        )
    }

    fn round(&self, v: u64) -> u64 {
        let r = self.round_to.max(1);
        (v + r / 2) / r * r
    }
}

/// How the rows of the tables are cut.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum By {
    Topic,
    Month,
    Quarter,
}

impl std::str::FromStr for By {
    type Err = String;
    fn from_str(s: &str) -> Result<By, String> {
        match s.trim() {
            "topic" => Ok(By::Topic),
            "month" => Ok(By::Month),
            "quarter" => Ok(By::Quarter),
            o => Err(format!("`{o}` is not topic, month or quarter")),
        }
    }
}

/// One published cell. `value` is `None` when the rules hide it, and
/// `suppressed` says why.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Figure {
    pub table: String,
    pub row: String,
    pub column: String,
    pub value: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub suppressed: Option<String>,
}

/// What `buurt impact` exports.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Report {
    pub since: String,
    pub until: String,
    pub by: By,
    pub rules: Rules,
    pub rules_text: String,
    pub figures: Vec<Figure>,
}

/// The label of a fact's row.
fn row_of(f: &Fact, by: By) -> String {
    row_at(f.group, f.day, by)
}

/// The label of the row of topic group `group` and day `day`.
fn row_at(group: u8, day: Day, by: By) -> String {
    match by {
        By::Topic => groups()
            .get(usize::from(group))
            .copied()
            .unwrap_or("unknown")
            .to_owned(),
        By::Month => {
            let (y, m, _) = calendar::civil(day);
            format!("{y:04}-{m:02}")
        }
        By::Quarter => {
            let (y, m, _) = calendar::civil(day);
            format!("{y:04}-Q{}", (m - 1) / 3 + 1)
        }
    }
}

/// The share of requests answered within 48 hours, in percent, from the
/// published (rounded) cells only, and only where both are shown: it tells
/// nothing the table does not.
fn share_answered(rows: &[String], figures: &mut Vec<Figure>) {
    let shown = |figures: &[Figure], row: &str, column: &str| {
        figures
            .iter()
            .find(|f| f.table == "requests" && f.row == row && f.column == column)
            .and_then(|f| f.value)
    };
    for row in rows.iter().map(String::as_str).chain([table::TOTAL]) {
        let share = match (
            shown(figures, row, "requests"),
            shown(figures, row, "answered_within_48h"),
        ) {
            (Some(all), Some(answered)) if all > 0 => Some((answered * 100 + all / 2) / all),
            _ => None,
        };
        figures.push(Figure {
            table: "requests".into(),
            row: row.to_owned(),
            column: "answered_within_48h_percent".into(),
            value: share,
            suppressed: share
                .is_none()
                .then(|| "a request or answered cell is hidden".into()),
        });
    }
}

/// `YYYY-MM` of a day: the report names its period in months.
fn month_name(day: Day) -> String {
    let (y, m, _) = calendar::civil(day);
    format!("{y:04}-{m:02}")
}

/// This node's members, as pseudonyms with a day: when each joined, and
/// each day one wrote a letter.
#[derive(Debug, Clone, Default)]
pub struct People {
    pub joined: Vec<([u8; 8], Day)>,
    pub wrote: Vec<([u8; 8], Day)>,
}

/// The tables of facts first posted from `since` to `until` (days,
/// inclusive):
/// - `listings` — offers and requests, every listing the node holds or held
///   (the neighbourhood's board);
/// - `requests` — this node's members' requests, those answered within 48
///   hours, and the median hours to the first reaction;
/// - `agreements` — accepted and completed in the period (as their members
///   here reported them), hours of help, things lent, meals shared;
/// - `funnel` — this node's members' listings, those with a first
///   reaction, agreements accepted and completed;
/// - `reciprocity` — members who both gave and received, pairs who
///   completed more than once, agreements across nodes;
/// - `members` — this node's members who joined, who were active (posted,
///   wrote a letter, or took part in an agreement), and who offered help or
///   a skill for the first time (by period; one total row when by topic).
pub fn report(
    facts: &[(Fact, Option<i64>)],
    deals: &[Deal],
    people: &People,
    since: Day,
    until: Day,
    by: By,
    rules: &Rules,
) -> Report {
    let in_range: Vec<&(Fact, Option<i64>)> = facts
        .iter()
        .filter(|(f, _)| f.day >= since && f.day <= until)
        .collect();
    let rows: Vec<String> = match by {
        By::Topic => groups().into_iter().map(str::to_owned).collect(),
        _ => {
            let inside = |d: Day| d >= since && d <= until;
            in_range
                .iter()
                .map(|(f, _)| f.day)
                .chain(deals.iter().flat_map(|d| [d.accepted, d.completed]))
                .chain(people.joined.iter().map(|(_, d)| *d))
                .chain(people.wrote.iter().map(|(_, d)| *d))
                .filter(|d| inside(*d))
                .map(|d| row_at(0, d, by))
                .collect::<BTreeSet<_>>()
                .into_iter()
                .collect()
        }
    };
    let mut listings = Table::new("listings", vec!["offers", "requests"]);
    let mut requests = Table::new("requests", vec!["requests", "answered_within_48h"]);
    let mut waits: BTreeMap<String, Tally> = BTreeMap::new();
    for (f, first) in &in_range {
        let row = row_of(f, by);
        let column = match f.kind {
            Kind::Offer => "offers",
            Kind::Request => "requests",
        };
        listings.add(&row, column, f.author);
        if f.kind == Kind::Request && f.own {
            requests.add(&row, "requests", f.author);
            let posted = calendar::start_of(f.day);
            if let Some(at) = first {
                // The post's day, not its second, is kept: a reaction within
                // 48 hours of its day counts, to the hour.
                let hours = ((at - posted).max(0)) / 3_600;
                if hours <= 48 {
                    requests.add(&row, "answered_within_48h", f.author);
                }
                for key in [row.clone(), TOTAL.to_owned()] {
                    let w = waits.entry(key).or_default();
                    w.residents.insert(f.author);
                    w.hours.push(hours);
                }
            }
        }
    }
    // Agreements: accepted in the period, completed in the period.
    let mut agreements = Table::new(
        "agreements",
        vec![
            "accepted",
            "completed",
            "hours_of_help",
            "items_lent",
            "meals_shared",
        ],
    );
    let mut funnel = Table::new(
        "funnel",
        vec![
            "members_listings",
            "with_first_reaction",
            "accepted",
            "completed",
        ],
    );
    for (f, first) in in_range.iter().filter(|(f, _)| f.own) {
        let row = row_of(f, by);
        funnel.add(&row, "members_listings", f.author);
        if first.is_some() {
            funnel.add(&row, "with_first_reaction", f.author);
        }
    }
    let deal_row = |d: &Deal, day: Day| row_at(d.group, day, by);
    let mut given: BTreeSet<[u8; 8]> = BTreeSet::new();
    let mut received: BTreeSet<[u8; 8]> = BTreeSet::new();
    let mut pairs: BTreeMap<([u8; 8], [u8; 8]), u32> = BTreeMap::new();
    let mut across = Tally::default();
    for d in deals {
        let who = [d.giver, d.receiver];
        if d.accepted >= since && d.accepted <= until {
            let row = deal_row(d, d.accepted);
            agreements.add_n(&row, "accepted", &who, 1);
            funnel.add_n(&row, "accepted", &who, 1);
        }
        if d.reached == super::Reached::Completed && d.completed >= since && d.completed <= until {
            let row = deal_row(d, d.completed);
            agreements.add_n(&row, "completed", &who, 1);
            funnel.add_n(&row, "completed", &who, 1);
            match buurt_protocol::Exchange::from_code(d.exchange) {
                Some(buurt_protocol::Exchange::Help) => {
                    agreements.add_n(&row, "hours_of_help", &who, u64::from(d.minutes) / 60)
                }
                Some(buurt_protocol::Exchange::Lend | buurt_protocol::Exchange::Rent) => {
                    agreements.add_n(&row, "items_lent", &who, 1)
                }
                Some(buurt_protocol::Exchange::Meal) => {
                    agreements.add_n(&row, "meals_shared", &who, 1)
                }
                _ => {}
            }
            given.insert(d.giver);
            received.insert(d.receiver);
            let pair = if d.giver < d.receiver {
                (d.giver, d.receiver)
            } else {
                (d.receiver, d.giver)
            };
            *pairs.entry(pair).or_default() += 1;
            if d.across_nodes {
                across.add_n(&who, 1);
            }
        }
    }
    // Members: joined, active, first time offering help or a skill.
    let period_rows: Vec<String> = match by {
        By::Topic => vec![],
        _ => rows.clone(),
    };
    let period = |day: Day| match by {
        By::Topic => TOTAL.to_owned(),
        _ => row_at(0, day, by),
    };
    let mut members = Table::new("members", vec!["joined", "active", "first_time_helpers"]);
    let in_period = |d: Day| d >= since && d <= until;
    for (who, day) in people.joined.iter().filter(|(_, d)| in_period(*d)) {
        add_member(&mut members, &period(*day), "joined", *who);
    }
    let mut active: BTreeSet<(String, [u8; 8])> = BTreeSet::new();
    for (f, _) in in_range.iter().filter(|(f, _)| f.own) {
        active.insert((period(f.day), f.author));
    }
    for (who, day) in people.wrote.iter().filter(|(_, d)| in_period(*d)) {
        active.insert((period(*day), *who));
    }
    for d in deals.iter().filter(|d| in_period(d.accepted)) {
        active.insert((period(d.accepted), d.giver));
        active.insert((period(d.accepted), d.receiver));
    }
    for (row, who) in &active {
        add_member(&mut members, row, "active", *who);
    }
    // A member's first offer of help or a skill, ever.
    let helping = |f: &Fact| {
        f.own
            && f.kind == Kind::Offer
            && (f.exchange == buurt_protocol::Exchange::Help.code()
                || groups()
                    .get(usize::from(f.group))
                    .is_some_and(|g| *g == "skills"))
    };
    let mut firsts: BTreeMap<[u8; 8], Day> = BTreeMap::new();
    for (f, _) in facts.iter().filter(|(f, _)| helping(f)) {
        let e = firsts.entry(f.author).or_insert(f.day);
        *e = (*e).min(f.day);
    }
    for (who, day) in firsts.iter().filter(|(_, d)| in_period(**d)) {
        add_member(&mut members, &period(*day), "first_time_helpers", *who);
    }
    let mut figures = Vec::new();
    listings.publish(&rows, rules, &mut figures);
    requests.publish(&rows, rules, &mut figures);
    share_answered(&rows, &mut figures);
    agreements.publish(&rows, rules, &mut figures);
    funnel.publish(&rows, rules, &mut figures);
    members.publish(&period_rows, rules, &mut figures);
    // Reciprocity, for the whole period: members who both gave and
    // received; pairs who completed more than once; across nodes.
    let both: BTreeSet<[u8; 8]> = given.intersection(&received).copied().collect();
    let repeat: Vec<_> = pairs
        .iter()
        .filter(|(_, n)| **n > 1)
        .map(|(p, _)| *p)
        .collect();
    let repeat_members: BTreeSet<[u8; 8]> = repeat.iter().flat_map(|(a, b)| [*a, *b]).collect();
    for (column, count, residents) in [
        ("gave_and_received", both.len() as u64, both.len()),
        ("repeat_pairs", repeat.len() as u64, repeat_members.len()),
        ("across_nodes", across.count, across.residents.len()),
    ] {
        let shown = residents >= rules.min_residents;
        figures.push(Figure {
            table: "reciprocity".into(),
            row: TOTAL.into(),
            column: column.into(),
            value: shown.then(|| rules.round(count)),
            suppressed: (!shown).then(|| format!("fewer than {} residents", rules.min_residents)),
        });
    }
    for row in rows.iter().map(String::as_str).chain([TOTAL]) {
        let w = waits.get(row).cloned().unwrap_or_default();
        let shown = w.residents.len() >= rules.min_residents;
        figures.push(Figure {
            table: "requests".into(),
            row: row.to_owned(),
            column: "median_hours_to_first_reaction".into(),
            value: if shown {
                median(w.hours).map(|h| h as u64)
            } else {
                None
            },
            suppressed: (!shown).then(|| format!("fewer than {} residents", rules.min_residents)),
        });
    }
    Report {
        since: month_name(since),
        until: month_name(until),
        by,
        rules: *rules,
        rules_text: rules.describe(),
        figures,
    }
}

#[cfg(test)]
mod tests;
