//! What a page shows of a listing, in the reader's language: everything a
//! template prints is a ready string (escaped by the template).

use buurt_protocol::{taxonomy, Exchange, Kind, Money, Period};

use super::words::Lang;
use crate::api::dto::ListingView;

/// One listing on a page.
#[derive(Debug, Clone)]
pub struct Card {
    pub id: String,
    pub url: String,
    pub title: String,
    pub body: String,
    pub kind: &'static str,
    pub exchange: &'static str,
    pub topics: Vec<String>,
    pub tags: Vec<String>,
    pub terms: String,
    pub scope: String,
    pub status: String,
    pub posted: String,
    pub updated: Option<String>,
    pub expires: String,
    pub thanked: String,
    pub available: Vec<String>,
    pub every: Option<String>,
    pub behalf: Option<(String, String)>,
    pub photo: Option<String>,
    pub author: String,
}

/// `2026-12-04` of an RFC 3339 time.
fn date(rfc3339: &str) -> String {
    rfc3339.get(..10).unwrap_or(rfc3339).to_owned()
}

/// Money as Dutch readers write it: `€ 2,50`; other currencies by code.
pub fn money(m: &Money) -> String {
    let amount = format!("{},{:02}", m.cents / 100, m.cents % 100);
    match m.currency.as_str() {
        "EUR" => format!("€ {amount}"),
        c => format!("{c} {amount}"),
    }
}

impl Card {
    pub fn new(v: &ListingView, lang: Lang) -> Card {
        let w = lang.words();
        let kind = if v.kind == "request" {
            Kind::Request
        } else {
            Kind::Offer
        };
        let exchange = v.exchange.parse().unwrap_or(Exchange::Give);
        let mut terms = match &v.terms.price {
            None => w.free.to_owned(),
            Some(p) if p.unit.is_empty() => money(&p.amount),
            Some(p) => format!("{} / {}", money(&p.amount), p.unit),
        };
        if let Some(d) = &v.terms.deposit {
            terms.push_str(&format!(", {} {}", w.deposit, money(d)));
        }
        let thanked = match v.thanked_by.unwrap_or(0) {
            0 => w.not_thanked.to_owned(),
            1 => w.thanked_one.to_owned(),
            n => format!("{n} {}", w.thanked_many),
        };
        let available = v
            .availability
            .iter()
            .map(|a| {
                let mut s = if a.from == a.to {
                    a.from.clone()
                } else {
                    format!("{} – {}", a.from, a.to)
                };
                if let Some(d) = &a.days {
                    s.push_str(&format!(", {d}"));
                }
                if let Some(h) = &a.hours {
                    s.push_str(&format!(", {h}"));
                }
                s
            })
            .collect();
        let every = v.every.as_ref().map(|e| {
            let period = match e.period {
                Period::Week => w.every_week,
                Period::Fortnight => w.every_fortnight,
                Period::Month => w.every_month,
            };
            if e.paused {
                format!("{period} ({})", w.paused)
            } else {
                format!("{period}; {}: {}", w.next_dates, e.next.join(", "))
            }
        });
        let updated = match (&v.first_created_at, v.revisions) {
            (Some(first), Some(n)) if n > 1 && *first != v.created_at => Some(date(&v.created_at)),
            _ => None,
        };
        Card {
            url: format!("/listing/{}?lang={}", v.id, lang.code()),
            id: v.id.clone(),
            title: v.title.clone(),
            body: v.body.clone(),
            kind: w.kind(kind),
            exchange: w.exchange(exchange),
            topics: v
                .topics
                .iter()
                .map(|t| {
                    taxonomy::by_key(t).map_or_else(|| t.clone(), |t| lang.topic(t).to_owned())
                })
                .collect(),
            tags: v.tags.clone(),
            terms,
            scope: v.scope.clone(),
            status: v.status.clone(),
            posted: date(v.first_created_at.as_deref().unwrap_or(&v.created_at)),
            updated,
            expires: date(&v.expires_at),
            thanked,
            available,
            every,
            behalf: v.behalf.as_ref().map(|b| {
                (
                    b.resident.clone(),
                    format!("{} ({})", b.statement, b.consent_on),
                )
            }),
            photo: v
                .photo
                .map(|p| format!("/photo/{}?listing={}", hex::encode(p.sha256), v.id)),
            author: v.author.clone(),
        }
    }
}

/// A topic group and its topics, for the topic picker and the index.
#[derive(Debug, Clone)]
pub struct Group {
    pub key: &'static str,
    pub label: &'static str,
    pub topics: Vec<(&'static str, &'static str)>,
}

/// Every group with its topics, and the topics outside any group as a
/// group of their own.
pub fn groups(lang: Lang) -> Vec<Group> {
    let mut out: Vec<Group> = taxonomy::GROUPS
        .iter()
        .map(|g| Group {
            key: g.key,
            label: lang.topic(g),
            topics: taxonomy::TOPICS
                .iter()
                .filter(|t| t.key.split_once('.').is_some_and(|(grp, _)| grp == g.key))
                .map(|t| (t.key, lang.topic(t)))
                .collect(),
        })
        .collect();
    out.push(Group {
        key: "",
        label: match lang {
            Lang::Nl => "Verder",
            Lang::En => "More",
        },
        topics: taxonomy::TOPICS
            .iter()
            .filter(|t| !t.key.contains('.'))
            .map(|t| (t.key, lang.topic(t)))
            .collect(),
    });
    out
}
