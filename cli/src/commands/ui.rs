//! `buurt ui`: the resident's own page, served by their own CLI on
//! loopback. The browser holds no secret: the page asks this process, which
//! signs with the member key in the data directory and talks to the node
//! like every other command. A random token, given once in the printed
//! address, becomes a same-site, HTTP-only cookie; every request without it
//! is refused, as is a request for another host name (DNS rebinding) and
//! every form post without the page's CSRF token or from another origin.

mod deals;
mod letters;
mod pages;

use std::net::{Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use anyhow::{Context, Result};
use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;
use buurt_node::datadir::{random_bytes, DataDir};

use super::member;
use crate::{Cli, Command};

/// The page's state: where the data directory and the node are, the
/// secrets of this start, and one message for the next page.
pub struct Ui {
    data_dir: PathBuf,
    api: Option<String>,
    token: String,
    csrf: String,
    port: u16,
    me: String,
    board_url: String,
    flash: Mutex<Option<(bool, String)>>,
}

impl Ui {
    /// A `Cli` for running commands on behalf of the page.
    fn cli(&self) -> Cli {
        Cli {
            data_dir: Some(self.data_dir.clone()),
            json: true,
            api: self.api.clone(),
            command: Command::Ui {
                port: self.port,
                open: false,
            },
        }
    }

    fn dir(&self) -> DataDir {
        DataDir::new(&self.data_dir)
    }

    fn say(&self, ok: bool, text: impl Into<String>) {
        *self.flash.lock().unwrap_or_else(|p| p.into_inner()) = Some((ok, text.into()));
    }

    fn take_flash(&self) -> (Option<String>, Option<String>) {
        match self.flash.lock().unwrap_or_else(|p| p.into_inner()).take() {
            Some((true, t)) => (Some(t), None),
            Some((false, t)) => (None, Some(t)),
            None => (None, None),
        }
    }
}

/// Constant-time comparison of two secrets.
fn same(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

const COOKIE: &str = "buurt_ui";

pub fn run(cli: &Cli, dir: &DataDir, port: u16, open: bool) -> Result<()> {
    // The member must exist and be admitted before a page can sign for them.
    let (key, _) = member(cli, dir)?;
    let c = super::client(cli, dir)?;
    let listener = std::net::TcpListener::bind(SocketAddr::from((Ipv4Addr::LOCALHOST, port)))
        .with_context(|| format!("listening on 127.0.0.1:{port}"))?;
    listener.set_nonblocking(true)?;
    let port = listener.local_addr()?.port();
    let ui = Arc::new(Ui {
        data_dir: dir.root().to_owned(),
        api: cli
            .api
            .clone()
            .or_else(|| std::env::var("BUURT_API").ok().filter(|a| !a.is_empty())),
        token: hex::encode(random_bytes::<16>()?),
        csrf: hex::encode(random_bytes::<16>()?),
        port,
        me: buurt_protocol::keys::member_id(&key).to_string(),
        board_url: format!("{}/", c.base()),
        flash: Mutex::new(None),
    });
    let url = format!("http://127.0.0.1:{port}/?token={}", ui.token);
    if cli.json {
        println!("{}", serde_json::json!({ "url": url, "port": port }));
    } else {
        println!("{url}");
        eprintln!("Your own page is at the address above (only for you: it carries a secret). Ctrl-C stops it.");
    }
    if open {
        if let Err(e) = std::process::Command::new("xdg-open").arg(&url).spawn() {
            eprintln!("Could not open a browser ({e}); open the address yourself.");
        }
    }
    let app = router(ui);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    rt.block_on(async move {
        let listener = tokio::net::TcpListener::from_std(listener)?;
        axum::serve(listener, app)
            .with_graceful_shutdown(async {
                let _ = tokio::signal::ctrl_c().await;
            })
            .await
    })?;
    Ok(())
}

fn router(ui: Arc<Ui>) -> Router {
    Router::new()
        .route("/", get(pages::home))
        .route("/post", post(pages::post))
        .route("/listing/{id}/status", post(pages::status))
        .route("/listing/{id}/withdraw", post(pages::withdraw))
        .route(
            "/listing/{id}/edit",
            get(pages::edit_form).post(pages::edit),
        )
        .route("/inbox", get(letters::inbox))
        .route("/conversation/{id}", get(letters::conversation))
        .route("/reply", post(letters::reply))
        .route("/agreements", get(deals::list))
        .route("/agreement/{id}/{step}", post(deals::step))
        .route("/static/buurt.css", get(css))
        .layer(axum::extract::DefaultBodyLimit::max(2 * 1024 * 1024))
        .layer(axum::middleware::from_fn_with_state(ui.clone(), guard))
        .with_state(ui)
}

async fn css() -> Response {
    (
        [(header::CONTENT_TYPE, "text/css; charset=utf-8")],
        buurt_node::board::CSS,
    )
        .into_response()
}

#[derive(askama::Template)]
#[template(path = "ui/refused.html")]
struct Refused<'a> {
    why: &'a str,
}

/// A refusal as a page; `why` may carry what the visitor sent, so it goes
/// through the template's escaping like every other text.
fn refuse(status: StatusCode, why: &str) -> Response {
    use askama::Template;
    let body = Refused { why }
        .render()
        .unwrap_or_else(|_| "Geweigerd".to_owned());
    (
        status,
        [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
        body,
    )
        .into_response()
}

/// The host, token and origin checks of every request, and the security
/// headers of every answer.
async fn guard(State(ui): State<Arc<Ui>>, req: Request, next: Next) -> Response {
    let ours = [
        format!("127.0.0.1:{}", ui.port),
        format!("localhost:{}", ui.port),
    ];
    let host = req
        .headers()
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or_default();
    if !ours.iter().any(|o| o == host) {
        return refuse(
            StatusCode::FORBIDDEN,
            "This page answers only at 127.0.0.1.",
        );
    }
    if req.method() == Method::POST {
        if let Some(origin) = req
            .headers()
            .get(header::ORIGIN)
            .and_then(|o| o.to_str().ok())
        {
            if !ours.iter().any(|o| origin == format!("http://{o}")) {
                return refuse(
                    StatusCode::FORBIDDEN,
                    "A form from another site is refused.",
                );
            }
        }
    }
    let given = req
        .uri()
        .query()
        .unwrap_or_default()
        .split('&')
        .find_map(|p| p.strip_prefix("token="))
        .map(str::to_owned);
    if let Some(t) = given {
        if !same(&t, &ui.token) {
            return refuse(
                StatusCode::FORBIDDEN,
                "This address is not (or no longer) valid: open the one `buurt ui` printed.",
            );
        }
        let mut r = Redirect::to(req.uri().path()).into_response();
        let cookie = format!("{COOKIE}={}; HttpOnly; SameSite=Strict; Path=/", ui.token);
        if let Ok(v) = HeaderValue::from_str(&cookie) {
            r.headers_mut().insert(header::SET_COOKIE, v);
        }
        return r;
    }
    let cookie_ok = req
        .headers()
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|c| {
            c.trim()
                .strip_prefix(&format!("{COOKIE}="))
                .map(str::to_owned)
        })
        .any(|t| same(&t, &ui.token));
    if !cookie_ok {
        return refuse(
            StatusCode::FORBIDDEN,
            "Open the address that `buurt ui` printed: it carries the key to this page.",
        );
    }
    let mut r = next.run(req).await;
    let h = r.headers_mut();
    h.insert(
        "content-security-policy",
        HeaderValue::from_static(buurt_node::board::CSP),
    );
    h.insert(
        "x-content-type-options",
        HeaderValue::from_static("nosniff"),
    );
    // Not `no-referrer`: with it a browser sends `Origin: null` on the
    // page's own forms, and the origin check above could not tell them.
    h.insert("referrer-policy", HeaderValue::from_static("same-origin"));
    h.insert("x-frame-options", HeaderValue::from_static("DENY"));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r
}
