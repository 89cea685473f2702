//! A hyper HTTP/1.1 client on gorun: GET a URL and print the status, headers and body, as
//! `curl -i` does.
//!
//! ```text
//! cargo run --features hyper --example http_server &
//! cargo run --features hyper --example http_client -- http://127.0.0.1:8080/
//! ```

use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use hyper::{Request, Response, Uri};
use std::io;

/// GETs `url` over a new connection: the response with its whole body.
pub async fn get(url: &str) -> io::Result<Response<Bytes>> {
    let bad = |e: &dyn std::fmt::Display| {
        io::Error::new(io::ErrorKind::InvalidInput, format!("{url}: {e}"))
    };
    let uri: Uri = url.parse().map_err(|e| bad(&e))?;
    if uri.scheme_str() != Some("http") {
        return Err(bad(&"only http:// URLs"));
    }
    let host = uri.host().ok_or_else(|| bad(&"no host"))?.to_string();
    let port = uri.port_u16().unwrap_or(80);
    let stream = gorun::net::TcpStream::connect((host.as_str(), port)).await?;
    let (mut sender, conn) = hyper::client::conn::http1::handshake(stream)
        .await
        .map_err(io::Error::other)?;
    // The connection's driver: a goroutine of its own, as hyper's docs spawn it.
    gorun::go(async move {
        if let Err(e) = conn.await {
            eprintln!("http_client: connection: {e}");
        }
    });
    let authority = uri.authority().map(|a| a.to_string()).unwrap_or(host);
    let path = uri.path_and_query().map_or("/", |p| p.as_str());
    let req = Request::get(path)
        .header(hyper::header::HOST, authority)
        .body(Empty::<Bytes>::new())
        .map_err(io::Error::other)?;
    let res = sender.send_request(req).await.map_err(io::Error::other)?;
    let (parts, body) = res.into_parts();
    let body = body.collect().await.map_err(io::Error::other)?.to_bytes();
    Ok(Response::from_parts(parts, body))
}

#[allow(dead_code)] // `tests/http.rs` includes this file for `get`
#[gorun::main]
async fn main() {
    let url = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "http://127.0.0.1:8080/".into());
    match get(&url).await {
        Ok(res) => {
            println!("{:?} {}", res.version(), res.status());
            for (k, v) in res.headers() {
                println!("{k}: {}", v.to_str().unwrap_or("?"));
            }
            println!();
            print!("{}", String::from_utf8_lossy(res.body()));
        }
        Err(e) => {
            eprintln!("http_client: {e}");
            std::process::exit(1);
        }
    }
}
