//! "The Go Programming Language" §8.10: the chat server, and `netcat3` (§8.4.1) as its client.
//! The server's broadcaster goroutine owns the set of clients and serves three channels in a
//! `select!`; each connection has a handler goroutine reading lines and a writer goroutine
//! draining that client's outgoing channel. The client sends what it reads on standard input
//! and prints what the server sends: its name, then each of its messages broadcast back.
//!
//! ```go
//! func broadcaster() {
//!     clients := make(map[client]bool) // all connected clients
//!     for {
//!         select {
//!         case msg := <-messages:
//!             for cli := range clients {
//!                 cli <- msg
//!             }
//!         case cli := <-entering:
//!             clients[cli] = true
//!         case cli := <-leaving:
//!             delete(clients, cli)
//!             close(cli)
//!         }
//!     }
//! }
//!
//! func handleConn(conn net.Conn) {
//!     ch := make(chan string) // outgoing client messages
//!     go clientWriter(conn, ch)
//!     who := conn.RemoteAddr().String()
//!     ch <- "You are " + who
//!     messages <- who + " has arrived"
//!     entering <- ch
//!     input := bufio.NewScanner(conn)
//!     for input.Scan() {
//!         messages <- who + ": " + input.Text()
//!     }
//!     leaving <- ch
//!     messages <- who + " has left"
//!     conn.Close()
//! }
//! ```
//!
//! One change: `handleConn` waits for its writer to drain before closing the connection
//! (in Go the last messages may be cut off by `conn.Close()`). Standard input is the real one
//! when the lesson runs alone (`cargo run --example tour -- gopl_chat_client`).

use super::gopl_netcat::netcat3;
use futures::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use futures::StreamExt;
use gorun::chan::Chan;
use gorun::net::{TcpListener, TcpStream};
use gorun::prelude::*;

type Client = Chan<String>; // an outgoing message channel

#[derive(Clone)]
struct Hub {
    entering: Chan<Client>,
    leaving: Chan<Client>,
    messages: Chan<String>, // all incoming client messages
}

async fn broadcaster(hub: Hub) {
    let mut clients: Vec<Client> = Vec::new(); // all connected clients
    loop {
        select! {
            recv(hub.messages) -> msg => {
                let Some(msg) = msg else { return };
                // Broadcast incoming message to all clients' outgoing message channels.
                for cli in &clients {
                    let _ = cli.send(msg.clone()).await;
                }
            },
            recv(hub.entering) -> cli => {
                if let Some(cli) = cli {
                    clients.push(cli);
                }
            },
            recv(hub.leaving) -> cli => {
                if let Some(cli) = cli {
                    clients.retain(|c| !c.same_channel(&cli));
                    cli.close();
                }
            },
        }
    }
}

async fn handle_conn(conn: TcpStream, hub: Hub) {
    let who = conn.peer_addr().map(|a| a.to_string()).unwrap_or_default();
    let (rd, mut wr) = conn.split();
    let ch = chan::<String>(0); // outgoing client messages
    let out = ch.clone();
    let writer = go(async move {
        // clientWriter
        while let Some(msg) = out.recv().await {
            let _ = wr.write_all(format!("{msg}\n").as_bytes()).await; // NOTE: ignoring network errors
        }
    });
    let _ = ch.send(format!("You are {who}")).await;
    let _ = hub.messages.send(format!("{who} has arrived")).await;
    let _ = hub.entering.send(ch.clone()).await;
    let mut input = BufReader::new(rd).lines();
    while let Some(Ok(line)) = input.next().await {
        let _ = hub.messages.send(format!("{who}: {line}")).await;
    }
    let _ = hub.leaving.send(ch).await;
    let _ = hub.messages.send(format!("{who} has left")).await;
    let _ = writer.await; // the change: drain before closing
}

/// The chat server: accepts clients until the listener fails.
pub async fn chat_server(listener: TcpListener) {
    let hub = Hub {
        entering: chan(0),
        leaving: chan(0),
        messages: chan(0),
    };
    go(broadcaster(hub.clone()));
    while let Ok((conn, _)) = listener.accept().await {
        go(handle_conn(conn, hub.clone()));
    }
}

#[gorun::main]
pub async fn main() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    go(chat_server(listener));
    netcat3(addr, "Hi everyone!\nAnybody here?\n").await;
}
