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

use super::{groups, Deal, Fact};

/// The publication rules; written into every export.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
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
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
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
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Figure {
    pub table: String,
    pub row: String,
    pub column: String,
    pub value: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub suppressed: Option<String>,
}

/// What `buurt impact` exports.
#[derive(Debug, Clone, Serialize, Deserialize)]
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
    match by {
        By::Topic => groups()
            .get(usize::from(f.group))
            .copied()
            .unwrap_or("unknown")
            .to_owned(),
        By::Month => {
            let (y, m, _) = calendar::civil(f.day);
            format!("{y:04}-{m:02}")
        }
        By::Quarter => {
            let (y, m, _) = calendar::civil(f.day);
            format!("{y:04}-Q{}", (m - 1) / 3 + 1)
        }
    }
}

/// A count and the residents behind it.
#[derive(Default, Clone)]
struct Tally {
    count: u64,
    residents: BTreeSet<[u8; 8]>,
    hours: Vec<i64>,
}

impl Tally {
    fn add(&mut self, author: [u8; 8]) {
        self.count += 1;
        self.residents.insert(author);
    }

    /// Adds `n` with the residents `who` behind it.
    fn add_n(&mut self, who: &[[u8; 8]], n: u64) {
        self.count += n;
        self.residents.extend(who.iter().copied());
    }
}

const TOTAL: &str = "total";

/// One table: rows × columns of tallies, with a total row.
struct Table {
    name: &'static str,
    columns: Vec<&'static str>,
    cells: BTreeMap<(String, &'static str), Tally>,
}

impl Table {
    fn new(name: &'static str, columns: Vec<&'static str>) -> Table {
        Table {
            name,
            columns,
            cells: BTreeMap::new(),
        }
    }

    fn tally(&mut self, row: &str, column: &'static str) -> &mut Tally {
        self.cells.entry((row.to_owned(), column)).or_default()
    }

    /// Adds to the row and to the total.
    fn add(&mut self, row: &str, column: &'static str, author: [u8; 8]) {
        self.tally(row, column).add(author);
        self.tally(TOTAL, column).add(author);
    }

    /// Adds `n`, with the residents `who` behind it, to the row and total.
    fn add_n(&mut self, row: &str, column: &'static str, who: &[[u8; 8]], n: u64) {
        self.tally(row, column).add_n(who, n);
        self.tally(TOTAL, column).add_n(who, n);
    }

    /// The published cells of counts, with primary and secondary suppression.
    fn publish(&self, rows: &[String], rules: &Rules, out: &mut Vec<Figure>) {
        for &column in &self.columns {
            let mut cells: Vec<Figure> = Vec::new();
            let mut raw: Vec<u64> = Vec::new();
            for row in rows.iter().map(String::as_str).chain([TOTAL]) {
                let t = self
                    .cells
                    .get(&(row.to_owned(), column))
                    .cloned()
                    .unwrap_or_default();
                let shown = t.residents.len() >= rules.min_residents;
                cells.push(Figure {
                    table: self.name.to_owned(),
                    row: row.to_owned(),
                    column: column.to_owned(),
                    value: shown.then(|| rules.round(t.count)),
                    suppressed: (!shown)
                        .then(|| format!("fewer than {} residents", rules.min_residents)),
                });
                raw.push(t.count);
            }
            let last = cells.len() - 1;
            let hidden = cells[..last].iter().filter(|c| c.value.is_none()).count();
            if hidden == 1 && cells[last].value.is_some() {
                let smallest = (0..last)
                    .filter(|&i| cells[i].value.is_some())
                    .min_by_key(|&i| raw[i]);
                if let Some(i) = smallest {
                    cells[i].value = None;
                    cells[i].suppressed = Some("hides another cell from the total".into());
                }
            }
            out.extend(cells);
        }
    }
}

/// The median of whole hours, if any.
fn median(mut xs: Vec<i64>) -> Option<i64> {
    if xs.is_empty() {
        return None;
    }
    xs.sort_unstable();
    Some(xs[xs.len() / 2])
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
///   completed more than once, agreements across nodes.
pub fn report(
    facts: &[(Fact, Option<i64>)],
    deals: &[Deal],
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
        _ => in_range
            .iter()
            .map(|(f, _)| row_of(f, by))
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect(),
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
    let deal_row = |d: &Deal, day: Day| {
        row_of(
            &Fact {
                author: d.giver,
                kind: Kind::Offer,
                group: d.group,
                exchange: d.exchange,
                day,
                own: true,
            },
            by,
        )
    };
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
    let mut figures = Vec::new();
    listings.publish(&rows, rules, &mut figures);
    requests.publish(&rows, rules, &mut figures);
    agreements.publish(&rows, rules, &mut figures);
    funnel.publish(&rows, rules, &mut figures);
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
        since: calendar::format(since),
        until: calendar::format(until),
        by,
        rules: *rules,
        rules_text: rules.describe(),
        figures,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fact(author: u8, kind: Kind, group: u8, day: Day, own: bool) -> Fact {
        Fact {
            author: [author; 8],
            kind,
            group,
            exchange: 0,
            day,
            own,
        }
    }

    fn cell<'a>(r: &'a Report, table: &str, row: &str, column: &str) -> &'a Figure {
        r.figures
            .iter()
            .find(|f| f.table == table && f.row == row && f.column == column)
            .unwrap_or_else(|| panic!("{table}/{row}/{column}"))
    }

    #[test]
    fn ten_residents_show_a_cell_and_nine_do_not() {
        let day = |m: u8| calendar::from_civil(2026, m, 10).unwrap();
        let mut facts = Vec::new();
        // September: 10 residents, 23 offers; October: 9 residents;
        // November: 12 residents.
        for i in 0..23u8 {
            facts.push((fact(i % 10, Kind::Offer, 0, day(9), true), None));
        }
        for i in 0..9u8 {
            facts.push((fact(100 + i, Kind::Offer, 1, day(10), true), None));
        }
        for i in 0..12u8 {
            facts.push((fact(200 + i, Kind::Offer, 2, day(11), true), None));
        }
        let r = report(&facts, &[], day(9), day(11), By::Month, &Rules::default());
        assert_eq!(
            cell(&r, "listings", "2026-09", "offers").value,
            Some(25),
            "23 rounds to 25"
        );
        let october = cell(&r, "listings", "2026-10", "offers");
        assert_eq!(october.value, None, "9 residents");
        assert!(october
            .suppressed
            .as_deref()
            .unwrap()
            .starts_with("fewer than 10"));
        // The total (44 from 31 residents) is shown, so a second cell goes:
        // November (12) is the smallest shown; September stays.
        assert_eq!(cell(&r, "listings", "total", "offers").value, Some(45));
        let november = cell(&r, "listings", "2026-11", "offers");
        assert_eq!(november.value, None);
        assert_eq!(
            november.suppressed.as_deref(),
            Some("hides another cell from the total")
        );
        assert!(r.rules_text.contains("at least 10 distinct residents"));
        // By topic: goods has 10 residents, food 9.
        let r = report(&facts, &[], day(9), day(11), By::Topic, &Rules::default());
        assert_eq!(cell(&r, "listings", "goods", "offers").value, Some(25));
        assert_eq!(cell(&r, "listings", "food", "offers").value, None);
    }

    #[test]
    fn requests_answered_within_48_hours_and_the_median_wait() {
        let d = calendar::from_civil(2026, 11, 2).unwrap();
        let start = calendar::start_of(d);
        let mut facts = Vec::new();
        // 12 residents' requests: 10 answered after 2, 4, …, 20 hours and
        // after 60 hours for two.
        for i in 0..12u8 {
            let wait = if i < 10 { 2 * (i64::from(i) + 1) } else { 60 };
            facts.push((
                fact(i, Kind::Request, 2, d, true),
                Some(start + wait * 3_600),
            ));
        }
        // Another node's member's request: not this node's to count.
        facts.push((fact(50, Kind::Request, 2, d, false), Some(start)));
        let r = report(&facts, &[], d, d, By::Topic, &Rules::default());
        assert_eq!(
            cell(&r, "requests", "help", "requests").value,
            Some(10),
            "12 rounds to 10"
        );
        assert_eq!(
            cell(&r, "requests", "help", "answered_within_48h").value,
            Some(10)
        );
        assert_eq!(
            cell(&r, "requests", "help", "median_hours_to_first_reaction").value,
            Some(14),
            "the median of 2, 4, …, 20, 60, 60"
        );
        assert_eq!(
            cell(&r, "listings", "help", "requests").value,
            Some(15),
            "13 on the board"
        );
    }
}
