//! The loopback server over real TCP: a chunk being rendered goes out in pieces as it is made
//! (HTTP/1.1 chunked encoding, whole WebM Clusters, the first second first); the same chunk
//! from the cache, or for an HTTP/1.0 client, comes whole with a Content-Length; the bytes
//! are the same every way.

// Tests fail loudly on any unexpected error: unwrap is the assertion.
#![allow(clippy::unwrap_used)]

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::sync::Arc;

use common::{catalog, write_noise_wav};
use sonance_stream::server::Server;
use sonance_stream::{Access, StreamApi};

struct Answer {
    head: String,
    /// The body as it came: one piece per HTTP chunk, or one piece when not chunked.
    pieces: Vec<Vec<u8>>,
}

impl Answer {
    fn body(&self) -> Vec<u8> {
        self.pieces.concat()
    }
}

/// Send one request and read the answer to the end (the server closes nothing: read exactly
/// what the framing says).
fn get(addr: std::net::SocketAddr, target: &str, version: &str) -> Answer {
    get_with(addr, target, version, &format!("Host: {addr}\r\n"))
}

/// [`get`] with the given header lines (each ending in CRLF) instead of the usual `Host`.
fn get_with(addr: std::net::SocketAddr, target: &str, version: &str, headers: &str) -> Answer {
    let mut s = TcpStream::connect(addr).unwrap();
    write!(s, "GET {target} HTTP/{version}\r\n{headers}\r\n").unwrap();
    let mut raw = Vec::new();
    let mut buf = [0u8; 1 << 16];
    let head_end = loop {
        let n = s.read(&mut buf).unwrap();
        assert!(n > 0, "connection closed before the head");
        raw.extend_from_slice(&buf[..n]);
        if let Some(i) = raw.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
    };
    let head = String::from_utf8_lossy(&raw[..head_end]).to_string();
    let mut rest = raw[head_end..].to_vec();
    let mut more = |rest: &mut Vec<u8>| {
        let n = s.read(&mut buf).unwrap();
        assert!(n > 0, "connection closed mid-body");
        rest.extend_from_slice(&buf[..n]);
    };
    let lower = head.to_ascii_lowercase();
    let mut pieces = Vec::new();
    if lower.contains("transfer-encoding: chunked") {
        loop {
            let line_end = loop {
                if let Some(i) = rest.windows(2).position(|w| w == b"\r\n") {
                    break i;
                }
                more(&mut rest);
            };
            let size =
                usize::from_str_radix(std::str::from_utf8(&rest[..line_end]).unwrap(), 16).unwrap();
            while rest.len() < line_end + 2 + size + 2 {
                more(&mut rest);
            }
            if size == 0 {
                break;
            }
            pieces.push(rest[line_end + 2..line_end + 2 + size].to_vec());
            rest.drain(..line_end + 2 + size + 2);
        }
    } else {
        let len: usize = lower
            .lines()
            .find_map(|l| l.strip_prefix("content-length:"))
            .unwrap()
            .trim()
            .parse()
            .unwrap();
        while rest.len() < len {
            more(&mut rest);
        }
        pieces.push(rest[..len].to_vec());
    }
    Answer { head, pieces }
}

fn start(dir: &str, seconds: f64) -> (Server, String, PathBuf) {
    start_with(dir, seconds, Access::Loopback)
}

fn start_with(dir: &str, seconds: f64, access: Access) -> (Server, String, PathBuf) {
    let dir = std::env::temp_dir().join(format!("sonance-stream-{dir}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("noise.wav");
    write_noise_wav(&path, seconds);
    let catalog = catalog(&dir, 10.0);
    let ids = catalog.add(std::slice::from_ref(&path));
    let api = StreamApi::new(catalog, access);
    let server = Server::start("127.0.0.1", 0, Arc::new(api)).unwrap();
    (server, ids[0].as_str().to_string(), dir)
}

const CLUSTER_ID: [u8; 4] = [0x1F, 0x43, 0xB6, 0x75];

#[test]
fn a_chunk_being_made_goes_out_in_clusters_and_matches_the_cached_one() {
    let (server, id, _dir) = start("progressive", 12.0);
    let target = format!("/api/tracks/{id}/chunks/0.webm?preset=bypass");
    let fresh = get(server.addr(), &target, "1.1");
    assert!(fresh.head.starts_with("HTTP/1.1 200"), "{}", fresh.head);
    assert!(fresh.head.contains("X-Chunk-End: 10"), "{}", fresh.head);
    assert!(
        fresh.head.contains("X-First-Span-End: 1\r\n"),
        "{}",
        fresh.head
    );
    // A 10 s chunk is made of spans of 1, 5 and 4 s: three pieces, each whole Clusters.
    assert_eq!(fresh.pieces.len(), 3, "{}", fresh.head);
    for p in &fresh.pieces {
        assert_eq!(p[..4], CLUSTER_ID);
    }
    assert!(fresh.pieces[0].len() < fresh.pieces[1].len() / 3);

    let cached = get(server.addr(), &target, "1.1");
    assert!(cached.head.starts_with("HTTP/1.1 200"), "{}", cached.head);
    assert_eq!(cached.pieces.len(), 1, "a cached chunk comes whole");
    assert_eq!(cached.body(), fresh.body());

    // HTTP/1.0 has no chunked encoding: the next chunk comes whole even while it is made.
    let old = get(
        server.addr(),
        &format!("/api/tracks/{id}/chunks/1.webm?preset=bypass"),
        "1.0",
    );
    assert!(old.head.contains(" 200 "), "{}", old.head);
    assert_eq!(old.pieces.len(), 1);
    assert_eq!(old.body()[..4], CLUSTER_ID);
    server.stop();
}

/// The Cluster Timestamp element (ms) a piece starts with.
fn first_cluster_ms(piece: &[u8]) -> u64 {
    assert_eq!(piece[..4], CLUSTER_ID);
    // Cluster ID, a size vint, then Timestamp (0xE7), its size (0x8n) and n bytes.
    let size_len = piece[4].leading_zeros() as usize + 1;
    let at = 4 + size_len;
    assert_eq!(piece[at], 0xE7);
    let n = (piece[at + 1] & 0x7F) as usize;
    piece[at + 2..at + 2 + n]
        .iter()
        .fold(0, |v, &b| (v << 8) | u64::from(b))
}

#[test]
fn a_seek_target_gets_its_span_first() {
    let (server, id, _dir) = start("at", 23.0);
    // Chunk 1 is 10–20 s: spans of 10–11, 11–16 and 16–20 s. A seek to 17.05 s needs the
    // last, which is not made yet: the second from 17 s comes first, then the rest of that
    // span, the spans before it, and the part of it before 17 s.
    let target = format!("/api/tracks/{id}/chunks/1.webm?preset=bypass");
    let seek = get(server.addr(), &format!("{target}&at=17.05"), "1.1");
    assert!(seek.head.starts_with("HTTP/1.1 200"), "{}", seek.head);
    assert!(seek.head.contains("X-Chunk-Start: 10"), "{}", seek.head);
    assert!(
        seek.head.contains("X-First-Span-End: 18\r\n"),
        "{}",
        seek.head
    );
    let starts: Vec<u64> = seek.pieces.iter().map(|p| first_cluster_ms(p)).collect();
    assert_eq!(
        starts,
        [17_000, 18_000, 9_900, 11_000, 16_000],
        "piece order after a seek to 17.05 s"
    );
    // Asked again for the same moment: all made, the same bytes at once.
    let again = get(server.addr(), &format!("{target}&at=17.1"), "1.1");
    assert_eq!(again.pieces.len(), 1);
    assert_eq!(again.body(), seek.body());
    // Asked plainly, the chunk comes in span order (its last span made whole).
    let plain = get(server.addr(), &target, "1.1");
    assert!(plain.head.starts_with("HTTP/1.1 200"), "{}", plain.head);
    assert_eq!(first_cluster_ms(&plain.body()), 9_900);
    assert_eq!(get(server.addr(), &target, "1.1").body(), plain.body());
    for bad in ["at=-3", "at=soon"] {
        let r = get(server.addr(), &format!("{target}&{bad}"), "1.1");
        assert!(r.head.starts_with("HTTP/1.1 400"), "{bad}: {}", r.head);
    }
    server.stop();
}

#[test]
fn errors_and_small_answers_stay_whole() {
    let (server, id, _dir) = start("errors", 3.0);
    let missing = get(
        server.addr(),
        &format!("/api/tracks/{id}/chunks/7.webm?preset=bypass"),
        "1.1",
    );
    assert!(missing.head.starts_with("HTTP/1.1 404"), "{}", missing.head);
    let msg = String::from_utf8(missing.body()).unwrap();
    assert!(msg.contains("chunk 7 does not exist"), "{msg}");
    let bad = get(
        server.addr(),
        &format!("/api/tracks/{id}/chunks/0.webm?preset=loudest"),
        "1.1",
    );
    assert!(bad.head.starts_with("HTTP/1.1 400"), "{}", bad.head);
    let presets = get(server.addr(), "/api/presets", "1.1");
    assert!(presets.head.starts_with("HTTP/1.1 200"));
    assert_eq!(presets.pieces.len(), 1);
    server.stop();
}

/// The desktop app's own server: only its page, knowing the token, gets answers.
#[test]
fn the_apps_loopback_server_answers_only_its_page_with_the_token() {
    const PAGE: &str = "tauri://localhost";
    const TOKEN: &str = "6f1c0ffee0ddba11";
    let access = Access::AppLoopback {
        origin: PAGE.into(),
        token: TOKEN.into(),
    };
    let (server, id, _dir) = start_with("app", 3.0, access);
    let addr = server.addr();
    let ask = |target: &str, headers: &str| {
        let a = get_with(addr, target, "1.1", headers);
        let status: u16 = a.head[9..12].parse().unwrap();
        (status, a)
    };
    let page = format!("Host: {addr}\r\nOrigin: {PAGE}\r\n");

    // The page: answered, with CORS for it alone and the chunk headers readable.
    let (status, ok) = ask(&format!("/{TOKEN}/api/tracks/{id}"), &page);
    assert_eq!(status, 200, "{}", ok.head);
    assert!(ok
        .head
        .contains(&format!("Access-Control-Allow-Origin: {PAGE}")));
    assert!(String::from_utf8(ok.body()).unwrap().contains(&id));
    let (status, chunk) = ask(
        &format!("/{TOKEN}/api/tracks/{id}/chunks/0.webm?preset=bypass&at=1.5"),
        &page,
    );
    assert_eq!(status, 200, "{}", chunk.head);
    assert!(chunk.head.contains("X-First-Span-End"));
    assert!(chunk
        .head
        .contains("Access-Control-Expose-Headers: X-Chunk-Start, X-Chunk-End, X-First-Span-End"));

    // Without the token, with another token or a token that only starts right: refused.
    for target in [
        "/api/tracks".to_string(),
        "/6f1c0ffee0ddba10/api/tracks".to_string(),
        format!("/{TOKEN}0/api/tracks"),
        format!("/{}/api/tracks", &TOKEN[..8]),
        format!("/{TOKEN}"),
    ] {
        let (status, a) = ask(&target, &page);
        assert_eq!(status, 403, "{target}: {}", a.head);
    }
    // Another page, even one on this computer, or a name that is not loopback: refused.
    for headers in [
        format!("Host: {addr}\r\nOrigin: http://127.0.0.1:8000\r\n"),
        format!("Host: {addr}\r\nOrigin: https://evil.example\r\n"),
        format!("Host: evil.example:{}\r\nOrigin: {PAGE}\r\n", addr.port()),
    ] {
        let (status, a) = ask(&format!("/{TOKEN}/api/tracks"), &headers);
        assert_eq!(status, 403, "{headers}: {}", a.head);
    }
    // The token opens the API only: the web UI is the app's own.
    let (status, _) = ask(&format!("/{TOKEN}/index.html"), &page);
    assert_eq!(status, 404);
    server.stop();
}
