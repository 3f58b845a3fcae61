//! The rules on small, known inputs.
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
    let r = report(
        &facts,
        &[],
        &People::default(),
        day(9),
        day(11),
        By::Month,
        &Rules::default(),
    );
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
    let r = report(
        &facts,
        &[],
        &People::default(),
        day(9),
        day(11),
        By::Topic,
        &Rules::default(),
    );
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
    let r = report(
        &facts,
        &[],
        &People::default(),
        d,
        d,
        By::Topic,
        &Rules::default(),
    );
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
        cell(&r, "requests", "help", "answered_within_48h_percent").value,
        Some(100),
        "10 of 10, as published"
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
