//! Regression test for issue 12: when the process runs out of file descriptors, accepting
//! fails (EMFILE); the accept loop must go on and serve again once descriptors are free.
//! Its own test binary: it lowers this process's RLIMIT_NOFILE.

#![cfg(unix)]
// Tests fail loudly on any unexpected error: unwrap is the assertion.
#![allow(clippy::unwrap_used)]

mod common;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::time::{Duration, Instant};

use sonance_stream::server::Server;
use sonance_stream::{Access, StreamApi};

fn presets(addr: SocketAddr) -> std::io::Result<String> {
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(2))?;
    s.set_read_timeout(Some(Duration::from_secs(2)))?;
    write!(
        s,
        "GET /api/presets HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )?;
    let mut answer = String::new();
    s.read_to_string(&mut answer)?;
    Ok(answer)
}

#[test]
fn the_accept_loop_survives_running_out_of_file_descriptors() {
    let dir = std::env::temp_dir().join(format!("sonance-fd-{}", std::process::id()));
    let api = StreamApi::new(common::catalog(&dir, 30.0), Access::Loopback);
    let server = Server::start("127.0.0.1", 0, Arc::new(api)).unwrap();
    let addr = server.addr();
    assert!(presets(addr).unwrap().starts_with("HTTP/1.1 200"));

    let (soft, hard) = rlimit::Resource::NOFILE.get().unwrap();
    rlimit::Resource::NOFILE.set(128, hard).unwrap();
    // Each connection costs this process two descriptors (the client's and the server's):
    // connect until the client itself can get none. The server's accepts fail before that.
    let mut held = Vec::new();
    while held.len() < 1_000 {
        match TcpStream::connect_timeout(&addr, Duration::from_secs(2)) {
            Ok(s) => held.push(s),
            Err(_) => break,
        }
    }
    assert!(held.len() < 1_000, "the limit did not bite");
    // Give the server time to hit EMFILE on the connections it cannot take.
    std::thread::sleep(Duration::from_millis(300));
    drop(held);
    rlimit::Resource::NOFILE.set(soft, hard).unwrap();

    let t = Instant::now();
    loop {
        match presets(addr) {
            Ok(answer) if answer.starts_with("HTTP/1.1 200") => break,
            other => assert!(
                t.elapsed() < Duration::from_secs(2),
                "no answer after the descriptors came back: {other:?}"
            ),
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    server.stop();
}
