//! The fixed two-level topic tree, with Dutch and English labels.
//!
//! Listings carry topic *keys* only; labels live here so that they can be
//! corrected or translated without touching signed data. Adding a topic is a
//! protocol change: older nodes refuse listings with topics they do not know.

/// One topic of the tree.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Topic {
    /// Stable key, used on the wire: `group.name`, or a bare group.
    pub key: &'static str,
    /// Dutch label.
    pub nl: &'static str,
    /// English label.
    pub en: &'static str,
}

macro_rules! topics {
    ($( $key:literal => $nl:literal, $en:literal; )*) => {
        /// Every topic, in display order.
        pub const TOPICS: &[Topic] = &[ $( Topic { key: $key, nl: $nl, en: $en } ),* ];
    };
}

topics! {
    "goods.tools" => "Gereedschap", "Tools";
    "goods.kitchen" => "Keuken", "Kitchen";
    "goods.party" => "Feest", "Party";
    "goods.camping" => "Kamperen", "Camping";
    "goods.mobility" => "Fiets en vervoer", "Bikes and mobility";
    "goods.car" => "Auto", "Car";
    "goods.household" => "Huishouden", "Household";
    "goods.clothing" => "Kleding", "Clothing";
    "goods.baby" => "Baby en kind", "Baby and kids";
    "goods.books" => "Boeken", "Books";
    "goods.electronics" => "Elektronica", "Electronics";
    "goods.sport" => "Sport", "Sport";
    "goods.garden" => "Tuinspullen", "Garden equipment";
    "food.meal" => "Maaltijd", "Meal";
    "food.surplus" => "Voedseloverschot", "Food surplus";
    "help.chores" => "Klusjes", "Chores";
    "help.garden" => "Tuinhulp", "Garden help";
    "help.errands" => "Boodschappen", "Errands";
    "help.transport" => "Vervoer", "Transport";
    "help.company" => "Gezelschap", "Company";
    "help.admin" => "Administratie", "Paperwork";
    "help.digital" => "Digitale hulp", "Digital help";
    "help.language" => "Taal", "Language";
    "help.moving" => "Verhuizen", "Moving";
    "help.pets" => "Huisdieren", "Pets";
    "help.children" => "Kinderopvang", "Childcare";
    "help.care" => "Zorg", "Care";
    "space" => "Ruimte", "Space";
    "skills" => "Vaardigheden", "Skills";
    "other" => "Overig", "Other";
}

/// Top-level groups, for filtering (`--topic goods` matches every `goods.*`).
pub const GROUPS: &[Topic] = &[
    Topic {
        key: "goods",
        nl: "Spullen",
        en: "Goods",
    },
    Topic {
        key: "food",
        nl: "Eten",
        en: "Food",
    },
    Topic {
        key: "help",
        nl: "Hulp",
        en: "Help",
    },
];

/// Looks up a topic by its key.
pub fn by_key(key: &str) -> Option<&'static Topic> {
    TOPICS.iter().find(|t| t.key == key)
}

/// Parses what a person typed: a key, or a Dutch or English label, ignoring
/// case and surrounding space. Group names are not topics; see [`parse_filter`].
pub fn parse(text: &str) -> Option<&'static Topic> {
    let t = text.trim();
    TOPICS.iter().find(|x| {
        x.key.eq_ignore_ascii_case(t)
            || x.nl.to_lowercase() == t.to_lowercase()
            || x.en.to_lowercase() == t.to_lowercase()
    })
}

/// Parses a search filter: a topic (as [`parse`]) or a group. Returns the key,
/// which matches itself and, for a group, every key below it.
pub fn parse_filter(text: &str) -> Option<&'static str> {
    if let Some(t) = parse(text) {
        return Some(t.key);
    }
    let t = text.trim().to_lowercase();
    GROUPS
        .iter()
        .find(|g| g.key == t || g.nl.to_lowercase() == t || g.en.to_lowercase() == t)
        .map(|g| g.key)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_unique_and_well_formed() {
        let mut keys: Vec<&str> = TOPICS.iter().map(|t| t.key).collect();
        keys.sort();
        keys.dedup();
        assert_eq!(keys.len(), TOPICS.len());
        for t in TOPICS {
            assert!(t.key.split('.').count() <= 2);
            assert!(t.key.bytes().all(|b| b.is_ascii_lowercase() || b == b'.'));
        }
        assert_eq!(TOPICS.len(), 30);
    }

    #[test]
    fn labels_parse_in_both_languages() {
        assert_eq!(parse("goods.tools").unwrap().key, "goods.tools");
        assert_eq!(parse("GEREEDSCHAP").unwrap().key, "goods.tools");
        assert_eq!(parse(" tools ").unwrap().key, "goods.tools");
        assert_eq!(parse("Vervoer").unwrap().key, "help.transport");
        assert_eq!(parse("paperwork").unwrap().key, "help.admin");
        assert!(parse("goods").is_none());
        assert_eq!(parse_filter("goods"), Some("goods"));
        assert_eq!(parse_filter("Hulp"), Some("help"));
        assert!(parse("drills").is_none());
    }

    #[test]
    fn labels_are_unique_per_language() {
        for (i, a) in TOPICS.iter().enumerate() {
            for b in &TOPICS[i + 1..] {
                assert_ne!(a.nl.to_lowercase(), b.nl.to_lowercase());
                assert_ne!(a.en.to_lowercase(), b.en.to_lowercase());
            }
        }
    }
}
