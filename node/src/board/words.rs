//! The board's words in Dutch (the default) and English, chosen by `?lang=`
//! or the browser's `Accept-Language`.

use buurt_protocol::taxonomy::Topic;
use buurt_protocol::{Exchange, Kind};

/// A language of the board.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    Nl,
    En,
}

impl Lang {
    /// `?lang=` first, then the first of Dutch or English in
    /// `Accept-Language` (in the browser's order), else Dutch.
    pub fn choose(param: Option<&str>, accept: Option<&str>) -> Lang {
        match param.map(str::trim) {
            Some("en") => return Lang::En,
            Some("nl") => return Lang::Nl,
            _ => {}
        }
        let mut tags: Vec<(f32, &str)> = accept
            .unwrap_or_default()
            .split(',')
            .map(|part| {
                let mut bits = part.split(';');
                let tag = bits.next().unwrap_or_default().trim();
                let q = bits
                    .find_map(|b| b.trim().strip_prefix("q="))
                    .and_then(|q| q.parse().ok())
                    .unwrap_or(1.0);
                (q, tag)
            })
            .collect();
        tags.sort_by(|a, b| b.0.total_cmp(&a.0));
        for (_, tag) in tags {
            let primary = tag
                .split('-')
                .next()
                .unwrap_or_default()
                .to_ascii_lowercase();
            match primary.as_str() {
                "nl" => return Lang::Nl,
                "en" => return Lang::En,
                _ => {}
            }
        }
        Lang::Nl
    }

    pub fn code(self) -> &'static str {
        match self {
            Lang::Nl => "nl",
            Lang::En => "en",
        }
    }

    pub fn words(self) -> &'static Words {
        match self {
            Lang::Nl => &NL,
            Lang::En => &EN,
        }
    }

    pub fn topic(self, t: &Topic) -> &'static str {
        match self {
            Lang::Nl => t.nl,
            Lang::En => t.en,
        }
    }
}

/// Every fixed text of the board.
#[derive(Debug)]
pub struct Words {
    pub board: &'static str,
    pub skip: &'static str,
    pub other_language: &'static str,
    pub search: &'static str,
    pub words_label: &'static str,
    pub words_hint: &'static str,
    pub kind: &'static str,
    pub any: &'static str,
    pub offers: &'static str,
    pub requests: &'static str,
    pub exchange: &'static str,
    pub topic: &'static str,
    pub available: &'static str,
    pub available_hint: &'static str,
    pub near: &'static str,
    pub near_hint: &'static str,
    pub topics: &'static str,
    pub newest: &'static str,
    pub results: &'static str,
    pub none_found: &'static str,
    pub free: &'static str,
    pub deposit: &'static str,
    pub posted: &'static str,
    pub expires: &'static str,
    pub thanked_one: &'static str,
    pub thanked_many: &'static str,
    pub not_thanked: &'static str,
    pub whenever_open: &'static str,
    pub every_week: &'static str,
    pub every_fortnight: &'static str,
    pub every_month: &'static str,
    pub next_dates: &'static str,
    pub paused: &'static str,
    pub via: &'static str,
    pub for_resident: &'static str,
    pub consent: &'static str,
    pub terms: &'static str,
    pub neighbourhood: &'static str,
    pub status: &'static str,
    pub photo_of: &'static str,
    pub feed: &'static str,
    pub answer_hint: &'static str,
    pub back: &'static str,
    pub not_found: &'static str,
    pub read_only: &'static str,
    pub author: &'static str,
    pub updated: &'static str,
    pub standing: &'static str,
    /// Offer, request: by wire code.
    pub kinds: [&'static str; 2],
    /// Give, lend, rent, sell, help, meal, swap: by wire code.
    pub exchanges: [&'static str; 7],
}

impl Words {
    pub fn kind(&self, k: Kind) -> &'static str {
        self.kinds[usize::from(k.code())]
    }

    pub fn exchange(&self, e: Exchange) -> &'static str {
        self.exchanges[usize::from(e.code())]
    }
}

pub static NL: Words = Words {
    board: "Buurtbord",
    skip: "Naar de inhoud",
    other_language: "English",
    search: "Zoeken",
    words_label: "Wat zoekt u?",
    words_hint: "Tikfouten geven niet",
    kind: "Soort",
    any: "Alles",
    offers: "Aanbod",
    requests: "Vragen",
    exchange: "Hoe",
    topic: "Onderwerp",
    available: "Beschikbaar op",
    available_hint: "Een datum",
    near: "In de buurt van",
    near_hint: "Een geohash, bijvoorbeeld u173zq",
    topics: "Onderwerpen",
    newest: "Nieuw in de buurt",
    results: "Gevonden",
    none_found: "Niets gevonden. Probeer andere woorden of minder filters.",
    free: "gratis",
    deposit: "borg",
    posted: "Geplaatst",
    expires: "Verloopt",
    thanked_one: "bedankt door 1 buur",
    thanked_many: "buren bedankten",
    not_thanked: "nog niet bedankt",
    whenever_open: "altijd",
    every_week: "elke week",
    every_fortnight: "om de week",
    every_month: "elke maand",
    next_dates: "volgende keren",
    paused: "gepauzeerd",
    via: "via",
    for_resident: "Voor",
    consent: "Toestemming",
    terms: "Voorwaarden",
    neighbourhood: "Buurt",
    status: "Status",
    photo_of: "Foto van",
    feed: "Atom-feed van deze lijst",
    answer_hint: "Reageren doet u met uw eigen buurt-programma of pagina (buurt ui).",
    back: "Terug naar het bord",
    not_found: "Deze vermelding bestaat niet (meer).",
    read_only: "Dit bord is alleen om te lezen; niemand hoeft in te loggen.",
    author: "Door",
    updated: "Bijgewerkt",
    standing: "Vaste afspraak",
    kinds: ["Aanbod", "Gevraagd"],
    exchanges: [
        "te geef", "te leen", "te huur", "te koop", "hulp", "maaltijd", "te ruil",
    ],
};

pub static EN: Words = Words {
    board: "Neighbourhood board",
    skip: "Skip to content",
    other_language: "Nederlands",
    search: "Search",
    words_label: "What are you looking for?",
    words_hint: "Typos are forgiven",
    kind: "Kind",
    any: "All",
    offers: "Offers",
    requests: "Requests",
    exchange: "How",
    topic: "Topic",
    available: "Available on",
    available_hint: "A date",
    near: "Near",
    near_hint: "A geohash, e.g. u173zq",
    topics: "Topics",
    newest: "New in the neighbourhood",
    results: "Found",
    none_found: "Nothing found. Try other words or fewer filters.",
    free: "free",
    deposit: "deposit",
    posted: "Posted",
    expires: "Expires",
    thanked_one: "thanked by 1 neighbour",
    thanked_many: "neighbours thanked",
    not_thanked: "not thanked yet",
    whenever_open: "any time",
    every_week: "every week",
    every_fortnight: "every two weeks",
    every_month: "every month",
    next_dates: "next",
    paused: "paused",
    via: "via",
    for_resident: "For",
    consent: "Consent",
    terms: "Terms",
    neighbourhood: "Neighbourhood",
    status: "Status",
    photo_of: "Photo of",
    feed: "Atom feed of this list",
    answer_hint: "To answer, use your own buurt program or page (buurt ui).",
    back: "Back to the board",
    not_found: "This listing does not exist (any more).",
    read_only: "This board is read-only; nobody needs to log in.",
    author: "By",
    updated: "Updated",
    standing: "Standing offer",
    kinds: ["Offer", "Request"],
    exchanges: [
        "to give away",
        "to lend",
        "to rent",
        "for sale",
        "help",
        "meal",
        "to swap",
    ],
};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_browsers_order_decides_and_dutch_is_the_default() {
        assert_eq!(Lang::choose(None, None), Lang::Nl);
        assert_eq!(
            Lang::choose(None, Some("en-GB,en;q=0.9,nl;q=0.8")),
            Lang::En
        );
        assert_eq!(
            Lang::choose(None, Some("de-DE,nl;q=0.5,en;q=0.4")),
            Lang::Nl
        );
        assert_eq!(Lang::choose(None, Some("fr, en;q=0.3")), Lang::En);
        assert_eq!(Lang::choose(Some("nl"), Some("en")), Lang::Nl);
        assert_eq!(Lang::choose(Some("xx"), Some("en")), Lang::En);
    }
}
