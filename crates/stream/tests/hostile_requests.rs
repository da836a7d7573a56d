//! Regression tests for issue 12: what a hostile program on this computer can send to the
//! loopback server. Raw TCP clients on 127.0.0.1, every loop bounded; after each attack a
//! fresh client must still get `/api/presets` within 2 s (the acceptance criterion).

// Tests fail loudly on any unexpected error: unwrap is the assertion.
#![allow(clippy::unwrap_used)]

mod common;

use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{catalog, write_noise_wav};
use sonance_engine::{Enhancement, Preset};
use sonance_stream::server::{Limits, Server};
use sonance_stream::{Access, StreamApi};

/// The bound for a fresh client while others misbehave.
const FRESH_CLIENT_BOUND: Duration = Duration::from_secs(2);

struct Fixture {
    server: Server,
    api: Arc<StreamApi>,
    id: String,
    wav: PathBuf,
}

/// A server over one track of noise, `seconds` long, cut in chunks of `chunk_seconds`.
fn start(name: &str, seconds: f64, chunk_seconds: f64) -> Fixture {
    start_with(name, seconds, chunk_seconds, Limits::default())
}

fn start_with(name: &str, seconds: f64, chunk_seconds: f64, limits: Limits) -> Fixture {
    let dir = std::env::temp_dir().join(format!("sonance-hostile-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let wav = dir.join("noise.wav");
    write_noise_wav(&wav, seconds);
    let catalog = catalog(&dir, chunk_seconds);
    let ids = catalog.add(std::slice::from_ref(&wav));
    let api = Arc::new(StreamApi::new(catalog, Access::Loopback));
    let server = Server::start_with("127.0.0.1", 0, Arc::clone(&api), limits).unwrap();
    Fixture {
        server,
        api,
        id: ids[0].as_str().to_string(),
        wav,
    }
}

fn connect(addr: SocketAddr) -> TcpStream {
    let s = TcpStream::connect_timeout(&addr, Duration::from_secs(5)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s.set_write_timeout(Some(Duration::from_secs(10))).unwrap();
    s
}

/// Read one response with a Content-Length body: (status, head, body). `None` when the
/// server closed (or reset) the connection first.
fn read_response(s: &mut TcpStream) -> Option<(u16, String, Vec<u8>)> {
    let mut raw = Vec::new();
    let mut buf = [0u8; 1 << 14];
    let head_end = loop {
        if let Some(i) = raw.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        match s.read(&mut buf) {
            Ok(0) => return None,
            Ok(n) => raw.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == ErrorKind::WouldBlock || e.kind() == ErrorKind::TimedOut => {
                panic!("no answer within the read timeout")
            }
            Err(_) => return None,
        }
        assert!(raw.len() < 1 << 20, "a response head over 1 MiB");
    };
    let head = String::from_utf8_lossy(&raw[..head_end]).to_string();
    let status: u16 = head.get(9..12)?.parse().ok()?;
    let len: usize = head
        .to_ascii_lowercase()
        .lines()
        .find_map(|l| {
            l.strip_prefix("content-length:")
                .map(|v| v.trim().to_string())
        })
        .map_or(0, |v| v.parse().unwrap());
    let mut body = raw[head_end..].to_vec();
    while body.len() < len {
        let n = s.read(&mut buf).ok()?;
        if n == 0 {
            return None;
        }
        body.extend_from_slice(&buf[..n]);
    }
    Some((status, head, body))
}

/// One request on a new connection; the status, or `None` if the server closed it.
fn status_of(addr: SocketAddr, raw_request: &[u8]) -> Option<u16> {
    let mut s = connect(addr);
    // The server may answer and close before reading all of it: a failed write is fine.
    let _ = s.write_all(raw_request);
    read_response(&mut s).map(|(status, _, _)| status)
}

/// A fresh client gets the presets within [`FRESH_CLIENT_BOUND`].
fn presets_answered_promptly(addr: SocketAddr) {
    let t = Instant::now();
    let mut s = connect(addr);
    write!(s, "GET /api/presets HTTP/1.1\r\nHost: {addr}\r\n\r\n").unwrap();
    let (status, _, body) = read_response(&mut s).expect("the server closed on a fresh client");
    let took = t.elapsed();
    assert_eq!(status, 200);
    assert!(String::from_utf8(body).unwrap().contains("adaptive"));
    assert!(
        took < FRESH_CLIENT_BOUND,
        "a fresh client waited {took:?} for /api/presets"
    );
}

#[test]
fn announced_bodies_are_refused_unread() {
    let f = start("bodies", 3.0, 10.0);
    let addr = f.server.addr();
    // 1 TiB and 2^63 bytes: answering them once aborted the process (tiny_http allocated the
    // unread body). Then a few plausible lengths that never come.
    let lengths = [
        "1099511627776",
        "9223372036854775808",
        "100000",
        "100000",
        "100000",
        "100000",
    ];
    for len in lengths {
        let req =
            format!("GET /api/presets HTTP/1.1\r\nHost: {addr}\r\nContent-Length: {len}\r\n\r\n");
        let status = status_of(addr, req.as_bytes());
        assert!(
            matches!(status, Some(400..=499) | None),
            "Content-Length {len}: {status:?}"
        );
        assert_eq!(status, Some(413), "Content-Length {len}");
    }
    // Routes that take a body (POST, PUT) refuse one over the limit unread too.
    for (method, len) in [
        ("POST", "1099511627776"),
        ("PUT", "9223372036854775808"),
        ("POST", "4194305"),
    ] {
        let req = format!(
            "{method} /api/library/folders HTTP/1.1\r\nHost: {addr}\r\nContent-Length: {len}\r\n\r\n"
        );
        assert_eq!(status_of(addr, req.as_bytes()), Some(413), "{method} {len}");
    }
    // A chunked body, and one that says it follows a 100-continue.
    for extra in [
        "Transfer-Encoding: chunked\r\n",
        "Expect: 100-continue\r\nContent-Length: 5000000\r\n",
    ] {
        let req = format!("GET /api/presets HTTP/1.1\r\nHost: {addr}\r\n{extra}\r\n");
        assert_eq!(status_of(addr, req.as_bytes()), Some(413), "{extra}");
    }
    // An empty body is no body.
    let req = format!("GET /api/presets HTTP/1.1\r\nHost: {addr}\r\nContent-Length: 0\r\n\r\n");
    assert_eq!(status_of(addr, req.as_bytes()), Some(200));
    presets_answered_promptly(addr);
}

#[test]
fn a_thousand_idle_connections_do_not_lock_out_a_fresh_client() {
    // Enough descriptors for this test's 1 100 connections, the server's side of them and the
    // other tests of this binary running beside it.
    let limit = rlimit::increase_nofile_limit(8192).unwrap();
    let f = start("idle", 3.0, 10.0);
    let addr = f.server.addr();
    let want = 1_100usize.min(limit.saturating_sub(300) as usize / 2);
    assert!(
        want >= 1_100,
        "RLIMIT_NOFILE is {limit}: too low for this test"
    );
    let idle: Vec<TcpStream> = (0..want).map(|_| connect(addr)).collect();
    presets_answered_promptly(addr);
    assert!(
        f.server.connections() <= 256,
        "{} connections open",
        f.server.connections()
    );
    drop(idle);
}

#[test]
fn a_client_that_pipelines_and_never_reads_blocks_nobody() {
    let f = start("pipeline", 3.0, 10.0);
    let addr = f.server.addr();
    let request = format!("GET /api/presets HTTP/1.1\r\nHost: {addr}\r\n\r\n");
    let flood = request.repeat(5_000);
    let mut hog = connect(addr);
    hog.set_write_timeout(Some(Duration::from_secs(3))).unwrap();
    // It sends them all (or as much as the server takes before its answers back up) and
    // never reads an answer.
    let writer = std::thread::spawn(move || {
        let _ = hog.write_all(flood.as_bytes());
        hog
    });
    std::thread::sleep(Duration::from_millis(500));
    presets_answered_promptly(addr);
    let hog = writer.join().unwrap();
    presets_answered_promptly(addr);
    drop(hog);
}

#[test]
fn malformed_and_oversized_heads_get_4xx_or_a_close() {
    let f = start("malformed", 3.0, 10.0);
    let addr = f.server.addr();
    let host = format!("Host: {addr}\r\n");
    let huge_header = format!(
        "GET /api/presets HTTP/1.1\r\n{host}X-Big: {}\r\n\r\n",
        "a".repeat(70 << 10)
    );
    let huge_path = format!("GET /{} HTTP/1.1\r\n{host}\r\n", "a".repeat(70 << 10));
    let many_headers = format!(
        "GET /api/presets HTTP/1.1\r\n{host}{}\r\n",
        (0..200)
            .map(|i| format!("X-H{i}: v\r\n"))
            .collect::<String>()
    );
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("garbage", b"GARBAGE\r\n\r\n".to_vec()),
        ("no target", b"GET\r\n\r\n".to_vec()),
        (
            "bad version",
            format!("GET / HTTP/9.9\r\n{host}\r\n").into_bytes(),
        ),
        ("binary", vec![0, 1, 2, 255, 254, 13, 10, 13, 10]),
        (
            "bad header",
            format!("GET / HTTP/1.1\r\n{host}No colon here\r\n\r\n").into_bytes(),
        ),
        (
            "two lengths",
            format!("GET / HTTP/1.1\r\n{host}Content-Length: 1\r\nContent-Length: 2\r\n\r\n")
                .into_bytes(),
        ),
        ("huge header", huge_header.into_bytes()),
        ("huge path", huge_path.into_bytes()),
        ("200 headers", many_headers.into_bytes()),
    ];
    for (name, req) in cases {
        let status = status_of(addr, &req);
        assert!(
            matches!(status, Some(400..=499) | None),
            "{name}: {status:?}"
        );
    }
    presets_answered_promptly(addr);
}

#[test]
fn percent_encoded_queries_are_decoded_and_still_checked() {
    let f = start("query", 3.0, 10.0);
    let addr = f.server.addr();
    let init = |query: &str| {
        let req = format!(
            "GET /api/tracks/{}/init.webm?{query} HTTP/1.1\r\nHost: {addr}\r\n\r\n",
            f.id
        );
        status_of(addr, req.as_bytes())
    };
    assert_eq!(init("preset=original%2Dmatched&match=warm"), Some(200));
    assert_eq!(init("preset=%62ypass&intensity=0%2E5"), Some(200));
    assert_eq!(init("preset=original%2Dmatched&match=bypass"), Some(400));
    assert_eq!(init("preset=warm%00"), Some(400));
    assert_eq!(init("intensity=%37"), Some(400));
}

#[test]
fn head_requests_get_the_head_only() {
    let f = start("head", 3.0, 10.0);
    let addr = f.server.addr();
    let mut s = connect(addr);
    // A HEAD then a GET on one connection: the GET's answer follows the HEAD's head at once.
    write!(
        s,
        "HEAD /api/presets HTTP/1.1\r\nHost: {addr}\r\n\r\nGET /api/presets HTTP/1.1\r\nHost: {addr}\r\n\r\n"
    )
    .unwrap();
    let mut raw = Vec::new();
    let mut buf = [0u8; 1 << 14];
    while raw.windows(4).filter(|w| w == b"\r\n\r\n").count() < 2 {
        let n = s.read(&mut buf).unwrap();
        assert!(n > 0, "closed early");
        raw.extend_from_slice(&buf[..n]);
    }
    let text = String::from_utf8_lossy(&raw);
    let (head, rest) = text.split_once("\r\n\r\n").unwrap();
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    assert!(
        head.to_ascii_lowercase().contains("content-length:"),
        "{head}"
    );
    assert!(
        rest.starts_with("HTTP/1.1 200"),
        "a HEAD answer carried a body: {rest:?}"
    );
}

/// Status and the raw stream after the head of a chunk request (the first body bytes).
fn start_chunk(addr: SocketAddr, target: &str) -> (TcpStream, Vec<u8>) {
    let mut s = connect(addr);
    s.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
    write!(s, "GET {target} HTTP/1.1\r\nHost: {addr}\r\n\r\n").unwrap();
    let mut raw = Vec::new();
    let mut buf = [0u8; 1 << 16];
    let head_end = loop {
        if let Some(i) = raw.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        let n = s.read(&mut buf).unwrap();
        assert!(n > 0, "closed before the head");
        raw.extend_from_slice(&buf[..n]);
    };
    let head = String::from_utf8_lossy(&raw[..head_end]).to_string();
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    assert!(
        head.to_ascii_lowercase()
            .contains("transfer-encoding: chunked"),
        "{head}"
    );
    (s, raw[head_end..].to_vec())
}

/// Wait (bounded) until no handler runs.
fn handlers_end(server: &Server, within: Duration) {
    let t = Instant::now();
    while server.busy_handlers() > 0 {
        assert!(
            t.elapsed() < within,
            "a handler still runs after {within:?}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn a_client_that_leaves_mid_chunk_stops_the_render() {
    // One 30 s chunk: spans of 1, 5, 5, 5, 5, 5 and 4 s.
    let f = start("leave", 30.0, 30.0);
    let addr = f.server.addr();
    let target = format!("/api/tracks/{}/chunks/0.webm?preset=bypass", f.id);
    let (s, _first_bytes) = start_chunk(addr, &target);
    // Gone after the first piece.
    drop(s);
    handlers_end(&f.server, Duration::from_secs(120));
    // The render stopped: the spans in progress were finished (and cached), not the rest.
    let track = f.api.engine().open(&f.wav).unwrap();
    let bypass = Enhancement::new(Preset::Bypass, 1.0).unwrap();
    assert!(
        !f.api.engine().is_cached(&track, 0, &bypass),
        "the whole chunk was rendered for a client that had left"
    );
    presets_answered_promptly(addr);
}

#[cfg(unix)]
#[test]
fn a_chunk_that_fails_half_way_cuts_the_connection() {
    let f = start("fails", 30.0, 30.0);
    let addr = f.server.addr();
    let target = format!("/api/tracks/{}/chunks/0.webm?preset=bypass", f.id);
    let (mut s, mut body) = start_chunk(addr, &target);
    // The file vanishes while the chunk is made: the spans not yet started cannot be read.
    std::fs::remove_file(&f.wav).unwrap();
    let mut buf = [0u8; 1 << 16];
    loop {
        match s.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => body.extend_from_slice(&buf[..n]),
        }
        assert!(body.len() < 64 << 20, "an endless body");
    }
    // Cut, not ended: no last chunk (`0\r\n\r\n`) closes the body.
    assert!(
        !body.ends_with(b"0\r\n\r\n"),
        "a failed chunk ended like a whole one"
    );
    presets_answered_promptly(addr);
}

/// Wait (bounded) until the server has no connection open.
fn connections_end(server: &Server, within: Duration) {
    let t = Instant::now();
    while server.connections() > 0 {
        assert!(
            t.elapsed() < within,
            "{} connections still open after {within:?}",
            server.connections()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn a_client_that_stops_reading_is_dropped() {
    let limits = Limits {
        write_timeout: Duration::from_secs(1),
        ..Limits::default()
    };
    let f = start_with("stall", 10.0, 10.0, limits);
    let addr = f.server.addr();
    let target = format!("/api/tracks/{}/chunks/0.webm?preset=bypass", f.id);
    // Made once (HTTP/1.0: whole), so every answer below comes whole from the cache.
    let warm = format!("GET {target} HTTP/1.0\r\nHost: {addr}\r\n\r\n");
    assert_eq!(status_of(addr, warm.as_bytes()), Some(200));
    // Far more answer than socket buffers hold, never read.
    let mut hog = connect(addr);
    let request = format!("GET {target} HTTP/1.1\r\nHost: {addr}\r\n\r\n");
    let _ = hog.write_all(request.repeat(300).as_bytes());
    presets_answered_promptly(addr);
    connections_end(&f.server, Duration::from_secs(15));
    drop(hog);
}

#[test]
fn slow_heads_and_idle_keep_alives_are_closed() {
    let limits = Limits {
        head_timeout: Duration::from_secs(1),
        ..Limits::default()
    };
    let f = start_with("slow", 3.0, 10.0, limits);
    let addr = f.server.addr();
    let mut half = connect(addr);
    half.write_all(b"GET /api/presets HTTP/1.1\r\nHo").unwrap();
    let mut kept = connect(addr);
    write!(kept, "GET /api/presets HTTP/1.1\r\nHost: {addr}\r\n\r\n").unwrap();
    assert_eq!(read_response(&mut kept).map(|r| r.0), Some(200));
    let t = Instant::now();
    for mut s in [half, kept] {
        let mut buf = [0u8; 4096];
        loop {
            match s.read(&mut buf) {
                Ok(0) => break,
                Ok(_) => {}
                Err(e) if e.kind() == ErrorKind::WouldBlock || e.kind() == ErrorKind::TimedOut => {
                    panic!("still open after {:?}", t.elapsed())
                }
                Err(_) => break,
            }
        }
    }
    assert!(t.elapsed() < Duration::from_secs(5), "{:?}", t.elapsed());
}

#[test]
fn stop_closes_idle_connections_and_join_returns() {
    let f = start("stop", 3.0, 10.0);
    let addr = f.server.addr();
    let mut idle = connect(addr);
    presets_answered_promptly(addr);
    let Fixture { server, .. } = f;
    server.stop();
    let t = Instant::now();
    server.join();
    assert!(t.elapsed() < Duration::from_secs(6), "{:?}", t.elapsed());
    // The idle connection was closed, and nobody is accepted any more.
    let mut buf = [0u8; 16];
    assert!(matches!(idle.read(&mut buf), Ok(0) | Err(_)));
    assert!(status_of_or_refused(addr));
}

/// Whether a new connection is refused or closed without an answer.
fn status_of_or_refused(addr: SocketAddr) -> bool {
    match TcpStream::connect_timeout(&addr, Duration::from_secs(2)) {
        Err(_) => true,
        Ok(mut s) => {
            s.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
            let _ = write!(s, "GET /api/presets HTTP/1.1\r\nHost: {addr}\r\n\r\n");
            read_response(&mut s).is_none()
        }
    }
}
