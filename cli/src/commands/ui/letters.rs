//! Letters on `buurt ui`: the inbox, a conversation (marked read as it is
//! shown) and a reply, through the same code as `buurt inbox`, `thread` and
//! `reply`.

use std::sync::Arc;

use askama::Template;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use buurt_protocol::keys;
use serde::Deserialize;

use super::pages::{csrf_ok, html, line, short, work};
use super::{refuse, Ui};
use crate::commands::{inbox as conversations_of, mail};

pub struct Conv {
    conversation: String,
    with_short: String,
    unread: usize,
    last_text: String,
}

#[derive(Template)]
#[template(path = "ui/inbox.html")]
struct InboxPage {
    me_short: String,
    board_url: String,
    notice: Option<String>,
    error: Option<String>,
    list: Vec<Conv>,
}

pub async fn inbox(State(ui): State<Arc<Ui>>) -> Response {
    let (notice, mut error) = ui.take_flash();
    let list = match work(&ui, |cli, dir| {
        let (key, _, all, state, _) = mail::sync(cli, dir)?;
        Ok(conversations_of::conversations(
            &all,
            &state,
            &keys::member_id(&key),
        ))
    })
    .await
    {
        Ok(l) => l,
        Err(e) => {
            error = Some(line(&e));
            vec![]
        }
    };
    html(&InboxPage {
        me_short: short(&ui.me),
        board_url: ui.board_url.clone(),
        notice,
        error,
        list: list
            .into_iter()
            .map(|c| Conv {
                with_short: short(&c.with),
                conversation: c.conversation,
                unread: c.unread,
                last_text: c.last_text,
            })
            .collect(),
    })
}

pub struct Letter {
    who: String,
    when: String,
    text: String,
}

#[derive(Template)]
#[template(path = "ui/thread.html")]
struct ThreadPage {
    me_short: String,
    board_url: String,
    notice: Option<String>,
    error: Option<String>,
    csrf: String,
    conversation: String,
    listing: String,
    with_short: String,
    letters: Vec<Letter>,
}

pub async fn conversation(State(ui): State<Arc<Ui>>, Path(id): Path<String>) -> Response {
    let (notice, error) = ui.take_flash();
    let me = ui.me.clone();
    let want = id.clone();
    let found = work(&ui, move |cli, dir| {
        let (_, _, all, mut state, letters) = mail::sync(cli, dir)?;
        let mut ls: Vec<_> = all.into_iter().filter(|o| o.conversation == want).collect();
        ls.sort_by_key(|o| (o.created_at, o.seq));
        if let Some(max) = ls.iter().map(|o| o.seq).max() {
            state.read.insert(want.clone(), max);
            letters.save_state(&state)?;
        }
        Ok(ls)
    })
    .await;
    let ls = match found {
        Ok(ls) if !ls.is_empty() => ls,
        Ok(_) => {
            return refuse(
                axum::http::StatusCode::NOT_FOUND,
                "Geen gesprek met dit nummer.",
            )
        }
        Err(e) => return refuse(axum::http::StatusCode::BAD_GATEWAY, &line(&e)),
    };
    let with = ls
        .iter()
        .map(|o| {
            if o.from == me {
                o.to.clone()
            } else {
                o.from.clone()
            }
        })
        .next()
        .unwrap_or_default();
    html(&ThreadPage {
        me_short: short(&ui.me),
        board_url: ui.board_url.clone(),
        notice,
        error,
        csrf: ui.csrf.clone(),
        listing: ls[0].listing.clone(),
        conversation: id,
        with_short: short(&with),
        letters: ls
            .iter()
            .map(|o| Letter {
                who: if o.from == me {
                    "u".into()
                } else {
                    short(&o.from)
                },
                when: buurt_node::clock::rfc3339(o.created_at)
                    .replace('T', " ")
                    .replace('Z', " UTC"),
                text: crate::commands::agree::describe(&o.text).unwrap_or_else(|| o.text.clone()),
            })
            .collect(),
    })
}

#[derive(Debug, Deserialize)]
pub struct ReplyForm {
    #[serde(default)]
    csrf: String,
    id: String,
    text: String,
}

pub async fn reply(State(ui): State<Arc<Ui>>, Form(f): Form<ReplyForm>) -> Response {
    if let Some(r) = csrf_ok(&ui, &f.csrf) {
        return r;
    }
    let (id, text) = (f.id.trim().to_owned(), f.text);
    match work(&ui, move |cli, dir| mail::send_reply(cli, dir, &id, &text)).await {
        Ok((sent, conversation, _)) => {
            ui.say(sent.state != "failed", format!("Bericht: {}.", sent.detail));
            Redirect::to(&format!("/conversation/{conversation}")).into_response()
        }
        Err(e) => {
            ui.say(false, format!("Niet verstuurd: {}", line(&e)));
            Redirect::to("/").into_response()
        }
    }
}
