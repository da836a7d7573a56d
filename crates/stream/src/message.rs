//! [`Request`] and [`Response`]: the `http` crate's types, which every transport of the API
//! already speaks (hyper in [`crate::server`], the desktop app's custom URI scheme), so a
//! request goes from the transport to the routes and back without a translation of its own.
//! Beside them, the few helpers the routes use to read a request and make an answer.

use std::sync::Arc;

use http::header::{HeaderName, HeaderValue, CONTENT_TYPE, HOST, ORIGIN};
use http::StatusCode;
use serde::Serialize;
use sonance_engine::ErrorKind;

/// A request with its body read whole: at most [`MAX_BODY`] bytes (the transport refuses
/// larger ones).
pub type Request = http::Request<Vec<u8>>;

/// An answer. The body is shared bytes: fragments come straight from the cache.
pub type Response = http::Response<Arc<[u8]>>;

/// The largest request body the API takes (a folder path, a queue of ids).
pub const MAX_BODY: usize = 4 << 20;

/// A GET for `target` (path with optional `?query`) from a loopback client (tests, tools).
/// A target that is not a valid URI becomes `/`-less garbage the routes answer 404 to.
pub fn get(target: &str) -> Request {
    request("GET", target, Vec::new())
}

/// A request with `method` and a JSON body from a loopback client (tests, tools).
pub fn with_json(method: &str, target: &str, body: &str) -> Request {
    request(method, target, body.as_bytes().to_vec())
}

fn request(method: &str, target: &str, body: Vec<u8>) -> Request {
    let mut req = http::Request::new(body);
    *req.method_mut() = http::Method::from_bytes(method.as_bytes()).unwrap_or(http::Method::GET);
    *req.uri_mut() = target
        .parse()
        .unwrap_or_else(|_| http::Uri::from_static("/invalid-target"));
    req.headers_mut()
        .insert(HOST, HeaderValue::from_static("127.0.0.1"));
    req
}

/// A GET or HEAD: a request that only reads.
pub(crate) fn is_read<B>(req: &http::Request<B>) -> bool {
    matches!(*req.method(), http::Method::GET | http::Method::HEAD)
}

/// What the routes read of a request beyond method and path.
pub trait RequestExt {
    /// Who the client addresses: a target in absolute form names the host itself
    /// (RFC 9112 §3.2.2), else the `Host` header does.
    fn host(&self) -> Option<&str>;
    /// The `Origin` header.
    fn origin(&self) -> Option<&str>;
    /// The query string without `?` (still percent-encoded).
    fn query_str(&self) -> &str;
    /// The query's `key=value` pairs, percent-decoded.
    fn params(&self) -> impl Iterator<Item = (String, String)> + '_;
    /// The value of query parameter `key`, percent-decoded.
    fn param(&self, key: &str) -> Option<String> {
        self.params().find(|(k, _)| k == key).map(|(_, v)| v)
    }
}

impl<B> RequestExt for http::Request<B> {
    fn host(&self) -> Option<&str> {
        self.uri()
            .authority()
            .map(|a| a.as_str())
            .or_else(|| self.headers().get(HOST).and_then(|v| v.to_str().ok()))
    }

    fn origin(&self) -> Option<&str> {
        self.headers().get(ORIGIN).and_then(|v| v.to_str().ok())
    }

    fn query_str(&self) -> &str {
        self.uri().query().unwrap_or("")
    }

    fn params(&self) -> impl Iterator<Item = (String, String)> + '_ {
        form_urlencoded::parse(self.query_str().as_bytes())
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
    }
}

/// What the routes and tests do with an answer.
pub trait ResponseExt {
    /// Add header `name: value`; a value that is not valid HTTP is left out (logged), so none
    /// can break the framing.
    fn add_header(&mut self, name: &'static str, value: &str);
    /// The body as text (tests, logs).
    fn text(&self) -> String;
}

impl ResponseExt for Response {
    fn add_header(&mut self, name: &'static str, value: &str) {
        match (
            HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_str(value),
        ) {
            (Ok(k), Ok(v)) => {
                self.headers_mut().append(k, v);
            }
            _ => log::warn!("leaving out the malformed header {name:?}"),
        }
    }

    fn text(&self) -> String {
        String::from_utf8_lossy(self.body()).into_owned()
    }
}

/// An answer of `status` with `body` of type `content_type`, never cached by the client.
pub(crate) fn bytes(status: u16, content_type: &str, body: Arc<[u8]>) -> Response {
    let mut out = http::Response::new(body);
    *out.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let headers = out.headers_mut();
    headers.insert(
        CONTENT_TYPE,
        HeaderValue::from_str(content_type)
            .unwrap_or(HeaderValue::from_static("application/octet-stream")),
    );
    headers.insert(
        http::header::CACHE_CONTROL,
        HeaderValue::from_static("no-store"),
    );
    out
}

pub(crate) fn json(status: u16, value: &impl Serialize) -> Response {
    let body = serde_json::to_vec(value).unwrap_or_else(|_| b"null".to_vec());
    bytes(status, "application/json", body.into())
}

/// A JSON error `{kind, message}` (the transport's own refusals use it too).
pub fn error(status: u16, kind: &str, message: impl Into<String>) -> Response {
    #[derive(Serialize)]
    struct E<'a> {
        kind: &'a str,
        message: String,
    }
    json(
        status,
        &E {
            kind,
            message: message.into(),
        },
    )
}

pub(crate) fn engine_error(e: &sonance_engine::Error) -> Response {
    let (status, kind) = match e.kind() {
        ErrorKind::NotFound => (404, "not_found"),
        ErrorKind::Undecodable => (422, "undecodable"),
        ErrorKind::BadParameter => (400, "bad_parameter"),
        _ => (500, "internal"),
    };
    error(status, kind, e.to_string())
}

/// A 500 for a failure inside the server itself.
pub fn internal_error() -> Response {
    error(
        500,
        "internal",
        "Sonance hit an internal error; the player keeps working",
    )
}

/// `resp`'s head (status and headers) with an empty body: what goes out before a body that
/// is sent as it is made.
pub(crate) fn head_of(resp: &Response) -> Response {
    let mut head = http::Response::new(Arc::from([]));
    *head.status_mut() = resp.status();
    *head.headers_mut() = resp.headers().clone();
    head
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_are_read_as_the_client_addressed_them() {
        let req = http::Request::get("/api/tracks?preset=warm&q=a%20b")
            .header("Host", "127.0.0.1:8411")
            .header("Origin", "http://localhost:3000")
            .body(Vec::<u8>::new())
            .unwrap();
        assert_eq!(
            (req.method().as_str(), req.uri().path()),
            ("GET", "/api/tracks")
        );
        assert_eq!(req.query_str(), "preset=warm&q=a%20b");
        assert_eq!(req.param("q").as_deref(), Some("a b"));
        assert_eq!(req.host(), Some("127.0.0.1:8411"));
        assert_eq!(req.origin(), Some("http://localhost:3000"));
        // A target in absolute form names the host, whatever `Host` says.
        let req = http::Request::get("http://evil.example/api/tracks")
            .header("Host", "127.0.0.1")
            .body(())
            .unwrap();
        assert_eq!(req.host(), Some("evil.example"));
        // A target that is no URI still makes a request the routes can refuse.
        assert_eq!(get("not a uri").uri().path(), "/invalid-target");
    }

    #[test]
    fn malformed_headers_and_statuses_are_left_out() {
        let mut resp = error(404, "not_found", "no");
        resp.add_header("X-Evil", "a\r\nSet-Cookie: x");
        resp.add_header("X-Chunk-End", "10");
        assert_eq!(resp.status(), 404);
        assert_eq!(resp.headers()["content-type"], "application/json");
        assert_eq!(resp.headers()["x-chunk-end"], "10");
        assert!(resp.headers().get("x-evil").is_none());
        assert_eq!(error(1000, "x", "y").status(), 500);
        assert!(error(404, "not_found", "no").text().contains("not_found"));
    }
}
