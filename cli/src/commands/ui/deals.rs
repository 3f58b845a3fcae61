//! The agreements and thanks of `buurt ui`: each agreement with its next
//! step, a button for each step this member may take now, and a thanks
//! form once it is completed. The steps are `buurt accept`, `decline`,
//! `cancel`, `handover`, `return` and `done`, and `buurt thank`.

use std::sync::Arc;

use askama::Template;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use buurt_protocol::agreement::Stage;
use buurt_protocol::keys;
use serde::Deserialize;

use super::pages::{csrf_ok, html, line, short, work};
use super::Ui;
use crate::commands::agree::{self, Step};
use crate::commands::{agreements, thank};

pub struct Deal {
    id: String,
    listing: String,
    listing_short: String,
    with_short: String,
    exchange: String,
    stage: &'static str,
    next: String,
    until: Option<String>,
    note: String,
    steps: Vec<(&'static str, &'static str)>,
    can_thank: bool,
}

#[derive(Template)]
#[template(path = "ui/agreements.html")]
struct DealsPage {
    me_short: String,
    board_url: String,
    notice: Option<String>,
    error: Option<String>,
    csrf: String,
    list: Vec<Deal>,
}

/// Dutch names of the stages.
fn stage(s: Stage) -> &'static str {
    match s {
        Stage::Proposed => "voorgesteld",
        Stage::Accepted => "afgesproken",
        Stage::Underway => "bezig",
        Stage::Completed => "klaar",
        Stage::Declined => "afgewezen",
        Stage::Cancelled => "afgezegd",
    }
}

pub async fn list(State(ui): State<Arc<Ui>>) -> Response {
    let (notice, mut error) = ui.take_flash();
    let found = work(&ui, |cli, dir| {
        let ctx = agree::load(cli, dir)?;
        let me = keys::member_id(&ctx.key);
        let t = buurt_node::clock::now();
        let mut out: Vec<(i64, Deal)> = ctx
            .list
            .iter()
            .map(|a| {
                let v = agreements::view(a, &me, t);
                let mine_to_answer = a.proposal.with == me;
                let steps: Vec<(&'static str, &'static str)> = match a.stage {
                    Stage::Proposed if mine_to_answer => {
                        vec![("accept", "Accepteren"), ("decline", "Afwijzen")]
                    }
                    Stage::Proposed => vec![("cancel", "Afzeggen")],
                    Stage::Accepted => vec![
                        (
                            "handover",
                            if a.is_help() {
                                "Begonnen"
                            } else {
                                "Overgedragen"
                            },
                        ),
                        ("cancel", "Afzeggen"),
                    ],
                    Stage::Underway if a.comes_back() => vec![("return", "Teruggebracht")],
                    Stage::Underway => vec![("done", "Klaar")],
                    _ => vec![],
                };
                let at = a.events.first().map_or(0, |e| e.event.at);
                (
                    at,
                    Deal {
                        id: v.id.clone(),
                        listing_short: short(&v.listing),
                        listing: v.listing,
                        with_short: short(&v.with),
                        exchange: v.exchange,
                        stage: stage(a.stage),
                        next: v.next,
                        until: v.until,
                        note: v.note,
                        steps,
                        can_thank: a.stage == Stage::Completed,
                    },
                )
            })
            .collect();
        out.sort_by_key(|(at, _)| std::cmp::Reverse(*at));
        Ok(out.into_iter().map(|(_, d)| d).collect::<Vec<_>>())
    })
    .await;
    let list = found.unwrap_or_else(|e| {
        error = Some(line(&e));
        vec![]
    });
    html(&DealsPage {
        me_short: short(&ui.me),
        board_url: ui.board_url.clone(),
        notice,
        error,
        csrf: ui.csrf.clone(),
        list,
    })
}

#[derive(Debug, Deserialize)]
pub struct StepForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    text: String,
}

/// `POST /agreement/{id}/{step}`.
pub async fn step(
    State(ui): State<Arc<Ui>>,
    Path((id, what)): Path<(String, String)>,
    Form(f): Form<StepForm>,
) -> Response {
    if let Some(r) = csrf_ok(&ui, &f.csrf) {
        return r;
    }
    let done = match what.as_str() {
        "thank" => {
            let text = f.text;
            work(&ui, move |cli, dir| {
                let (answer, _) = thank::send_thanks(cli, dir, &id, &text)?;
                Ok(match answer.reveal_at {
                    Some(at) => format!(
                        "Bedankt; het blijft onzichtbaar tot de ander u ook bedankt, of tot {at}."
                    ),
                    None => "Bedankt; u heeft elkaar allebei bedankt, dus het is nu openbaar."
                        .to_owned(),
                })
            })
            .await
        }
        other => {
            let step = match other {
                "accept" => Step::Accept { keep_open: false },
                "decline" => Step::Decline,
                "cancel" => Step::Cancel,
                "handover" => Step::Handover,
                "return" => Step::Return,
                "done" => Step::Done { hours: None },
                _ => return super::refuse(axum::http::StatusCode::NOT_FOUND, "No such step."),
            };
            work(&ui, move |cli, dir| {
                let d = agree::take_step(cli, dir, &id, step)?;
                let mut s = format!(
                    "{}: de afspraak is nu {} ({}).",
                    d.name,
                    stage(d.after.stage),
                    d.detail
                );
                if let Some(l) = d.listing {
                    s.push_str(&format!(" Uw vermelding {l}."));
                }
                Ok(s)
            })
            .await
        }
    };
    match done {
        Ok(s) => ui.say(true, s),
        Err(e) => ui.say(false, line(&e)),
    }
    Redirect::to("/agreements").into_response()
}
