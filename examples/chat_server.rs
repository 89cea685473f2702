//! "The Go Programming Language" §8.10: a chat server. A broadcaster goroutine owns the set of
//! clients and serves three channels in a `select!` loop: `entering`, `leaving` and `messages`.
//! Each connection has a handler goroutine (reading lines) and a writer goroutine (draining
//! that client's outgoing channel).
//!
//! ```text
//! cargo run --example chat_server [ADDR] [--once]
//! nc 127.0.0.1 8000
//! ```
//!
//! `ADDR` defaults to `127.0.0.1:8000`. With `--once` the server exits after its first client
//! leaves (for tests).

use std::collections::HashMap;

use futures::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use futures::StreamExt;
use gorun::chan::{chan, Chan};
use gorun::net::{TcpListener, TcpStream};
use gorun::select;

/// An outgoing message channel, with an id to find it again when the client leaves.
type Client = (u64, Chan<String>);

#[derive(Clone)]
struct Hub {
    entering: Chan<Client>,
    leaving: Chan<u64>,
    messages: Chan<String>, // all incoming client messages
}

async fn broadcaster(hub: Hub) {
    let mut clients: HashMap<u64, Chan<String>> = HashMap::new(); // all connected clients
    loop {
        select! {
            recv(hub.messages) -> msg => {
                let Some(msg) = msg else { return };
                // Broadcast incoming message to all clients' outgoing message channels.
                for cli in clients.values() {
                    let _ = cli.send(msg.clone()).await;
                }
            },
            recv(hub.entering) -> cli => {
                if let Some((id, cli)) = cli {
                    clients.insert(id, cli);
                }
            },
            recv(hub.leaving) -> id => {
                if let Some(cli) = id.and_then(|id| clients.remove(&id)) {
                    cli.close();
                }
            },
        }
    }
}

async fn handle_conn(conn: TcpStream, id: u64, hub: Hub) {
    let who = match conn.peer_addr() {
        Ok(a) => a.to_string(),
        Err(_) => format!("client {id}"),
    };
    let (rd, wr) = conn.split();
    let ch = chan::<String>(0); // outgoing client messages
    let writer = gorun::go(client_writer(wr, ch.clone()));

    let _ = ch.send(format!("You are {who}")).await;
    let _ = hub.messages.send(format!("{who} has arrived")).await;
    let _ = hub.entering.send((id, ch)).await;

    let mut input = BufReader::new(rd).lines();
    while let Some(Ok(line)) = input.next().await {
        let _ = hub.messages.send(format!("{who}: {line}")).await;
    }
    // NOTE: ignoring potential errors from input, as the book does.

    let _ = hub.leaving.send(id).await;
    let _ = hub.messages.send(format!("{who} has left")).await;
    let _ = writer.await;
}

async fn client_writer(mut conn: gorun::net::tcp::WriteHalf, ch: Chan<String>) {
    while let Some(msg) = ch.recv().await {
        if conn.write_all(format!("{msg}\n").as_bytes()).await.is_err() {
            break; // NOTE: ignoring network errors
        }
    }
    let _ = conn.close().await;
}

#[gorun::main]
async fn main() -> std::io::Result<()> {
    let mut addr = String::from("127.0.0.1:8000");
    let mut once = false;
    for arg in std::env::args().skip(1) {
        match arg.as_str() {
            "--once" => once = true,
            _ => addr = arg,
        }
    }
    let listener = TcpListener::bind(addr.as_str()).await?;
    println!("chat server listening on {}", listener.local_addr()?);

    let hub = Hub {
        entering: chan(0),
        leaving: chan(0),
        messages: chan(0),
    };
    gorun::go(broadcaster(hub.clone()));
    let mut next_id = 0;
    // Go's `http.Server` backoff: an accept error (out of descriptors: `EMFILE`) is retried
    // after 5 ms, doubling up to 1 s; retrying at once would spin, as the listener stays ready.
    let mut backoff = gorun::time::Duration::ZERO;
    loop {
        let (conn, _) = match listener.accept().await {
            Ok(c) => {
                backoff = gorun::time::Duration::ZERO;
                c
            }
            Err(e) => {
                backoff = (backoff * 2).clamp(
                    gorun::time::Duration::from_millis(5),
                    gorun::time::Duration::from_secs(1),
                );
                eprintln!("{e}; retrying in {backoff:?}");
                gorun::time::sleep(backoff).await;
                continue;
            }
        };
        next_id += 1;
        let handler = gorun::go(handle_conn(conn, next_id, hub.clone()));
        if once {
            let _ = handler.await;
            return Ok(());
        }
    }
}
