//! The cells of a table: counts with the residents behind them, and their
//! publication under the rules.

use std::collections::{BTreeMap, BTreeSet};

use super::{Figure, Rules};

/// A count and the residents behind it.
#[derive(Default, Clone)]
pub(super) struct Tally {
    pub count: u64,
    pub residents: BTreeSet<[u8; 8]>,
    pub hours: Vec<i64>,
}

impl Tally {
    pub fn add(&mut self, author: [u8; 8]) {
        self.count += 1;
        self.residents.insert(author);
    }

    /// Adds `n` with the residents `who` behind it.
    pub fn add_n(&mut self, who: &[[u8; 8]], n: u64) {
        self.count += n;
        self.residents.extend(who.iter().copied());
    }
}

pub(super) const TOTAL: &str = "total";

/// One table: rows × columns of tallies, with a total row.
pub(super) struct Table {
    name: &'static str,
    columns: Vec<&'static str>,
    cells: BTreeMap<(String, &'static str), Tally>,
}

impl Table {
    pub fn new(name: &'static str, columns: Vec<&'static str>) -> Table {
        Table {
            name,
            columns,
            cells: BTreeMap::new(),
        }
    }

    pub fn tally(&mut self, row: &str, column: &'static str) -> &mut Tally {
        self.cells.entry((row.to_owned(), column)).or_default()
    }

    /// Adds to the row and to the total.
    pub fn add(&mut self, row: &str, column: &'static str, author: [u8; 8]) {
        self.tally(row, column).add(author);
        self.tally(TOTAL, column).add(author);
    }

    /// Adds `n`, with the residents `who` behind it, to the row and total.
    pub fn add_n(&mut self, row: &str, column: &'static str, who: &[[u8; 8]], n: u64) {
        self.tally(row, column).add_n(who, n);
        self.tally(TOTAL, column).add_n(who, n);
    }

    /// The published cells of counts, with primary and secondary suppression.
    pub fn publish(&self, rows: &[String], rules: &Rules, out: &mut Vec<Figure>) {
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

/// Counts a member once in a row (and once in the total).
pub(super) fn add_member(t: &mut Table, row: &str, column: &'static str, who: [u8; 8]) {
    if row != TOTAL {
        t.tally(row, column).add(who);
    }
    let total = t.tally(TOTAL, column);
    if total.residents.insert(who) {
        total.count += 1;
    }
}

/// The median of whole hours, if any.
pub(super) fn median(mut xs: Vec<i64>) -> Option<i64> {
    if xs.is_empty() {
        return None;
    }
    xs.sort_unstable();
    Some(xs[xs.len() / 2])
}
