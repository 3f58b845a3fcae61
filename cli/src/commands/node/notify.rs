//! Readiness for a service manager: systemd's `sd_notify` protocol, without
//! libsystemd.
//!
//! A unit of `Type=notify` (packaging/buurt.service) counts as started only
//! when the process says so. systemd names a unix datagram socket in
//! `$NOTIFY_SOCKET` (a path, or an abstract socket written `@name`);
//! `buurt node` sends it `READY=1` once its API is bound and a request to it
//! would be answered, so that `systemctl start buurt` returns when `buurt
//! status` works, and `STOPPING=1` when a signal begins the shutdown. Without
//! the variable nothing is sent: a node in a terminal is not affected.
//!
//! The protocol is one datagram of `KEY=value` lines (sd_notify(3)); a
//! failure to send is logged, never fatal, as libsystemd does.

use std::future::Future;

/// The variable systemd sets for a service that may notify it.
const SOCKET_VAR: &str = "NOTIFY_SOCKET";

/// Tells the service manager that the node is ready; `status` is shown by
/// `systemctl status`.
pub fn ready(status: &str) {
    send(&format!("READY=1\nSTATUS={status}"));
}

/// Resolves when `signal` does, after telling the service manager that the
/// node is stopping (the index commit and database flush that follow may
/// take a moment, and systemd then shows "deactivating", not a hang).
pub async fn stopping_after(signal: impl Future<Output = ()> + Send + 'static) {
    signal.await;
    send("STOPPING=1\nSTATUS=stopping: committing the index, flushing the database");
}

/// Sends `state` to `$NOTIFY_SOCKET`, if it is set.
fn send(state: &str) {
    #[cfg(unix)]
    {
        let Some(socket) = std::env::var_os(SOCKET_VAR) else {
            return;
        };
        if let Err(e) = notify(&socket, state) {
            tracing::warn!(
                "could not notify the service manager at {SOCKET_VAR}={}: {e}",
                socket.to_string_lossy()
            );
        }
    }
    #[cfg(not(unix))]
    {
        let _ = (SOCKET_VAR, state);
    }
}

/// Sends one datagram `state` to the notification socket `socket`: an
/// absolute path, or `@name` for a socket in the abstract namespace.
#[cfg(unix)]
fn notify(socket: &std::ffi::OsStr, state: &str) -> std::io::Result<()> {
    use std::io::{Error, ErrorKind};
    use std::os::unix::ffi::OsStrExt;
    use std::os::unix::net::UnixDatagram;

    let sock = UnixDatagram::unbound()?;
    let sent = match socket.as_bytes().split_first() {
        Some((b'/', _)) => sock.send_to(state.as_bytes(), socket)?,
        Some((b'@', name)) => send_abstract(&sock, name, state.as_bytes())?,
        _ => {
            return Err(Error::new(
                ErrorKind::InvalidInput,
                "neither an absolute path nor an @abstract socket name",
            ))
        }
    };
    if sent != state.len() {
        return Err(Error::new(
            ErrorKind::WriteZero,
            "the datagram was cut short",
        ));
    }
    Ok(())
}

/// Sends to a socket in Linux's abstract namespace (`@name`: the name
/// without the `@`, which stands for the leading NUL byte).
#[cfg(any(target_os = "linux", target_os = "android"))]
fn send_abstract(
    sock: &std::os::unix::net::UnixDatagram,
    name: &[u8],
    data: &[u8],
) -> std::io::Result<usize> {
    #[cfg(target_os = "android")]
    use std::os::android::net::SocketAddrExt;
    #[cfg(target_os = "linux")]
    use std::os::linux::net::SocketAddrExt;
    let addr = std::os::unix::net::SocketAddr::from_abstract_name(name)?;
    sock.send_to_addr(data, &addr)
}

/// Abstract sockets exist on Linux only.
#[cfg(all(unix, not(any(target_os = "linux", target_os = "android"))))]
fn send_abstract(
    _: &std::os::unix::net::UnixDatagram,
    _: &[u8],
    _: &[u8],
) -> std::io::Result<usize> {
    Err(std::io::Error::new(
        std::io::ErrorKind::Unsupported,
        "abstract sockets exist on Linux only",
    ))
}

#[cfg(all(test, unix))]
mod tests {
    use std::ffi::OsStr;
    use std::os::unix::net::UnixDatagram;

    use super::notify;

    fn received(sock: &UnixDatagram) -> String {
        let mut buf = [0u8; 256];
        let n = sock.recv(&mut buf).expect("a datagram");
        String::from_utf8(buf[..n].to_vec()).expect("utf-8")
    }

    #[test]
    fn ready_reaches_a_socket_given_by_path() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("notify");
        let sock = UnixDatagram::bind(&path).unwrap();
        notify(path.as_os_str(), "READY=1\nSTATUS=up").unwrap();
        assert_eq!(received(&sock), "READY=1\nSTATUS=up");
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn ready_reaches_an_abstract_socket() {
        use std::os::linux::net::SocketAddrExt;
        use std::os::unix::net::SocketAddr;
        let name = format!("buurt-notify-test-{}", std::process::id());
        let addr = SocketAddr::from_abstract_name(name.as_bytes()).unwrap();
        let sock = UnixDatagram::bind_addr(&addr).unwrap();
        notify(OsStr::new(&format!("@{name}")), "STOPPING=1").unwrap();
        assert_eq!(received(&sock), "STOPPING=1");
    }

    #[test]
    fn a_relative_or_empty_socket_name_is_refused() {
        assert!(notify(OsStr::new("notify"), "READY=1").is_err());
        assert!(notify(OsStr::new(""), "READY=1").is_err());
    }

    #[test]
    fn a_missing_socket_is_an_error_not_a_panic() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("absent");
        assert!(notify(path.as_os_str(), "READY=1").is_err());
    }
}
