//! The pages and forms of `buurt ui`. Every action runs the same code as
//! the command that does it (`offer`, `update`, `withdraw`, `reply`, …) on a
//! blocking thread; its outcome is said once on the next page.

use std::sync::Arc;

use askama::Template;
use axum::extract::{Multipart, Path, State};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::Form;
use buurt_node::api::dto::ListingView;
use buurt_node::board::words::Lang;
use buurt_node::board::Group;
use buurt_protocol::{Exchange, Kind, Status};
use serde::Deserialize;

use super::{refuse, same, Ui};
use crate::commands::{client, post};
use crate::PostArgs;

/// Runs blocking command code for the page.
pub(super) async fn work<T: Send + 'static>(
    ui: &Arc<Ui>,
    f: impl FnOnce(&crate::Cli, &buurt_node::datadir::DataDir) -> anyhow::Result<T> + Send + 'static,
) -> anyhow::Result<T> {
    let ui = ui.clone();
    tokio::task::spawn_blocking(move || f(&ui.cli(), &ui.dir()))
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?
}

pub(super) fn html(t: &impl Template) -> Response {
    match t.render() {
        Ok(s) => Html(s).into_response(),
        Err(e) => refuse(
            axum::http::StatusCode::INTERNAL_SERVER_ERROR,
            &format!("{e}"),
        ),
    }
}

/// An error as one line, as the CLI prints it.
pub(super) fn line(e: &anyhow::Error) -> String {
    e.chain()
        .map(|c| c.to_string())
        .collect::<Vec<_>>()
        .join(": ")
}

pub(super) fn short(id: &str) -> String {
    id.chars().take(12).collect()
}

pub struct Mine {
    id: String,
    short: String,
    title: String,
    kind: &'static str,
    status: String,
    expires: String,
}

#[derive(Template)]
#[template(path = "ui/home.html")]
struct Home {
    me_short: String,
    board_url: String,
    notice: Option<String>,
    error: Option<String>,
    csrf: String,
    exchanges: Vec<(&'static str, &'static str)>,
    groups: Vec<Group>,
    mine: Vec<Mine>,
}

pub async fn home(State(ui): State<Arc<Ui>>) -> Response {
    let me = ui.me.clone();
    let (notice, mut error) = ui.take_flash();
    let mine: Vec<ListingView> = match work(&ui, move |cli, dir| {
        client(cli, dir)?.get(&format!("/v1/members/{me}/listings"), &[])
    })
    .await
    {
        Ok(v) => v,
        Err(e) => {
            error = Some(line(&e));
            vec![]
        }
    };
    let w = Lang::Nl.words();
    html(&Home {
        me_short: short(&ui.me),
        board_url: ui.board_url.clone(),
        notice,
        error,
        csrf: ui.csrf.clone(),
        exchanges: Exchange::ALL
            .iter()
            .map(|e| (e.as_str(), w.exchange(*e)))
            .collect(),
        groups: buurt_node::board::groups(Lang::Nl),
        mine: mine
            .iter()
            .filter(|v| v.status != "withdrawn")
            .map(|v| Mine {
                id: v.id.clone(),
                short: short(&v.id),
                title: v.title.clone(),
                kind: w.kind(if v.kind == "request" {
                    Kind::Request
                } else {
                    Kind::Offer
                }),
                status: v.status.clone(),
                expires: v.expires_at.get(..10).unwrap_or_default().to_owned(),
            })
            .collect(),
    })
}

pub(super) fn csrf_ok(ui: &Ui, given: &str) -> Option<Response> {
    (!same(given, &ui.csrf)).then(|| {
        refuse(
            axum::http::StatusCode::FORBIDDEN,
            "This form is not from this page (no valid CSRF token): reload the page and try again.",
        )
    })
}

/// `POST /post`: the post form, with its photo.
pub async fn post(State(ui): State<Arc<Ui>>, mut form: Multipart) -> Response {
    let mut fields = std::collections::HashMap::new();
    let mut photo: Option<Vec<u8>> = None;
    loop {
        match form.next_field().await {
            Ok(Some(f)) => {
                let name = f.name().unwrap_or_default().to_owned();
                match f.bytes().await {
                    Ok(b) if name == "photo" => {
                        if !b.is_empty() {
                            photo = Some(b.to_vec());
                        }
                    }
                    Ok(b) => {
                        fields.insert(name, String::from_utf8_lossy(&b).into_owned());
                    }
                    Err(e) => return refuse(axum::http::StatusCode::BAD_REQUEST, &e.body_text()),
                }
            }
            Ok(None) => break,
            Err(e) => return refuse(axum::http::StatusCode::BAD_REQUEST, &e.body_text()),
        }
    }
    let get = |k: &str| {
        fields
            .get(k)
            .map(|v| v.trim().to_owned())
            .unwrap_or_default()
    };
    if let Some(r) = csrf_ok(&ui, &get("csrf")) {
        return r;
    }
    let some = |k: &str| Some(get(k)).filter(|v| !v.is_empty());
    let kind = if get("kind") == "request" {
        Kind::Request
    } else {
        Kind::Offer
    };
    let title = get("title");
    let (body, exchange, topic, price, deposit, expires, available, every, on) = (
        some("body"),
        some("exchange"),
        some("topic"),
        some("price"),
        some("deposit"),
        some("expires"),
        some("available"),
        some("every"),
        some("on"),
    );
    let done = work(&ui, move |cli, dir| {
        // The photo goes through the same path as `--photo FILE`.
        let tmp = photo
            .map(|bytes| {
                let path = dir.root().join(format!(
                    "ui-photo-{}.tmp",
                    hex::encode(buurt_node::datadir::random_bytes::<8>()?)
                ));
                std::fs::write(&path, bytes)?;
                Ok::<_, anyhow::Error>(path)
            })
            .transpose()?;
        let args = PostArgs {
            title: title.clone(),
            body,
            exchange,
            topic: topic.into_iter().collect(),
            tag: vec![],
            price,
            deposit,
            expires: expires.unwrap_or_else(|| "30d".into()),
            scope: None,
            geohash: None,
            available: available.into_iter().collect(),
            on: every.as_ref().and(on),
            every,
            for_resident: None,
            consent: None,
            consent_on: None,
            photo: tmp.clone(),
            circle: None,
        };
        let r = post::create(cli, dir, kind, &args);
        if let Some(t) = tmp {
            let _ = std::fs::remove_file(t);
        }
        r.map(|a| (a, title))
    })
    .await;
    match done {
        Ok((a, title)) => ui.say(
            true,
            format!("Geplaatst: {title} (nummer {}).", short(&a.id)),
        ),
        Err(e) => ui.say(false, format!("Niet geplaatst: {}", line(&e))),
    }
    Redirect::to("/").into_response()
}

#[derive(Debug, Deserialize)]
pub struct StatusForm {
    #[serde(default)]
    csrf: String,
    status: String,
}

pub async fn status(
    State(ui): State<Arc<Ui>>,
    Path(id): Path<String>,
    Form(f): Form<StatusForm>,
) -> Response {
    if let Some(r) = csrf_ok(&ui, &f.csrf) {
        return r;
    }
    let status = match f.status.as_str() {
        "reserved" => Status::Reserved,
        "closed" => Status::Closed,
        _ => Status::Open,
    };
    let done = work(&ui, move |cli, dir| post::set_status(cli, dir, &id, status)).await;
    match done {
        Ok(a) => ui.say(true, format!("Vermelding {} is nu {status}.", short(&a.id))),
        Err(e) => ui.say(false, line(&e)),
    }
    Redirect::to("/").into_response()
}

#[derive(Debug, Deserialize)]
pub struct CsrfOnly {
    #[serde(default)]
    csrf: String,
}

pub async fn withdraw(
    State(ui): State<Arc<Ui>>,
    Path(id): Path<String>,
    Form(f): Form<CsrfOnly>,
) -> Response {
    if let Some(r) = csrf_ok(&ui, &f.csrf) {
        return r;
    }
    match work(&ui, move |cli, dir| post::withdraw_listing(cli, dir, &id)).await {
        Ok(a) => ui.say(
            true,
            format!(
                "Ingetrokken: {} (de inhoud is overal gewist).",
                short(&a.id)
            ),
        ),
        Err(e) => ui.say(false, line(&e)),
    }
    Redirect::to("/").into_response()
}

#[derive(Template)]
#[template(path = "ui/edit.html")]
struct EditPage {
    me_short: String,
    board_url: String,
    notice: Option<String>,
    error: Option<String>,
    csrf: String,
    id: String,
    title: String,
    body: String,
}

/// `GET /listing/{id}/edit`: the form, filled in.
pub async fn edit_form(State(ui): State<Arc<Ui>>, Path(id): Path<String>) -> Response {
    let (notice, error) = ui.take_flash();
    let want = id.clone();
    let found = work(&ui, move |cli, dir| {
        client(cli, dir)?.get::<ListingView>(&format!("/v1/listings/{want}"), &[])
    })
    .await;
    let v = match found {
        Ok(v) => v,
        Err(e) => return refuse(axum::http::StatusCode::NOT_FOUND, &line(&e)),
    };
    html(&EditPage {
        me_short: short(&ui.me),
        board_url: ui.board_url.clone(),
        notice,
        error,
        csrf: ui.csrf.clone(),
        id: v.id,
        title: v.title,
        body: v.body,
    })
}

#[derive(Debug, Deserialize)]
pub struct EditForm {
    #[serde(default)]
    csrf: String,
    title: String,
    #[serde(default)]
    body: String,
    #[serde(default)]
    expires: String,
    #[serde(default)]
    available: String,
}

/// `POST /listing/{id}/edit`: a new signed revision.
pub async fn edit(
    State(ui): State<Arc<Ui>>,
    Path(id): Path<String>,
    Form(f): Form<EditForm>,
) -> Response {
    if let Some(r) = csrf_ok(&ui, &f.csrf) {
        return r;
    }
    let args = crate::UpdateArgs {
        id,
        status: None,
        title: Some(f.title),
        body: Some(f.body),
        expires: Some(f.expires).filter(|e| !e.trim().is_empty()),
        available: Some(f.available)
            .filter(|a| !a.trim().is_empty())
            .into_iter()
            .collect(),
    };
    match work(&ui, move |cli, dir| post::revise(cli, dir, &args)).await {
        Ok(a) => ui.say(
            true,
            format!(
                "Gewijzigd: {} (een nieuwe ondertekende versie).",
                short(&a.id)
            ),
        ),
        Err(e) => ui.say(false, line(&e)),
    }
    Redirect::to("/").into_response()
}
