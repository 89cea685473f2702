//! "The Go Programming Language" §8.3 and §8.4.1: `netcat3`, a client that copies standard
//! input to a TCP connection while a goroutine copies the connection to standard output, and
//! the `reverb1` echo server it talks to (each line shouted back three times, louder to
//! softer, a second apart). When input ends, `main` closes its writing half and waits for the
//! background goroutine, which ends when the server closes the connection.
//!
//! ```go
//! func main() { // netcat3
//!     conn, err := net.Dial("tcp", "localhost:8000")
//!     if err != nil {
//!         log.Fatal(err)
//!     }
//!     done := make(chan struct{})
//!     go func() {
//!         io.Copy(os.Stdout, conn) // NOTE: ignoring errors
//!         log.Println("done")
//!         done <- struct{}{} // signal the main goroutine
//!     }()
//!     mustCopy(conn, os.Stdin)
//!     conn.(*net.TCPConn).CloseWrite()
//!     <-done // wait for background goroutine to finish
//! }
//!
//! func echo(c net.Conn, shout string, delay time.Duration) { // reverb1
//!     fmt.Fprintln(c, "\t", strings.ToUpper(shout))
//!     time.Sleep(delay)
//!     fmt.Fprintln(c, "\t", shout)
//!     time.Sleep(delay)
//!     fmt.Fprintln(c, "\t", strings.ToLower(shout))
//! }
//!
//! func handleConn(c net.Conn) {
//!     input := bufio.NewScanner(c)
//!     for input.Scan() {
//!         echo(c, input.Text(), 1*time.Second)
//!     }
//!     c.Close()
//! }
//! ```
//!
//! Standard input is the real one when the lesson runs alone (`cargo run --example tour --
//! gopl_netcat`), else two canned lines; the server runs in the same process on a free port.

use super::common::{self, secs};
use futures::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use futures::StreamExt;
use gorun::net::tcp::WriteHalf;
use gorun::net::{TcpListener, TcpStream};
use gorun::prelude::*;

async fn echo(c: &mut WriteHalf, shout: &str, delay: Duration) {
    let _ = c
        .write_all(format!("\t {}\n", shout.to_uppercase()).as_bytes())
        .await;
    sleep(delay).await;
    let _ = c.write_all(format!("\t {shout}\n").as_bytes()).await;
    sleep(delay).await;
    let _ = c
        .write_all(format!("\t {}\n", shout.to_lowercase()).as_bytes())
        .await;
}

async fn handle_conn(c: TcpStream) {
    let (rd, mut wr) = c.split();
    let mut input = BufReader::new(rd).lines(); // bufio.NewScanner(c)
                                                // Each line is echoed before the next is read (reverb1 is sequential).
    while let Some(Ok(line)) = input.next().await {
        echo(&mut wr, &line, secs(1)).await;
    }
    // c.Close(): both halves dropped.
}

/// The reverb1 server: a goroutine per connection.
pub async fn reverb(listener: TcpListener) {
    while let Ok((conn, _)) = listener.accept().await {
        go(handle_conn(conn));
    }
}

/// netcat3: stdin to the connection, the connection to stdout.
pub async fn netcat3(addr: std::net::SocketAddr, canned: &str) {
    let conn = match TcpStream::connect(addr).await {
        Ok(c) => c,
        Err(e) => {
            outln!("{e}");
            return;
        }
    };
    let (mut rd, mut wr) = conn.split();
    let done = chan::<()>(0);
    let d = done.clone();
    go(async move {
        // io.Copy(os.Stdout, conn)
        let mut buf = [0u8; 4096];
        while let Ok(n @ 1..) = rd.read(&mut buf).await {
            out!("{}", String::from_utf8_lossy(&buf[..n]));
        }
        outln!("done"); // log.Println("done")
        d.send(()).await.unwrap();
    });
    // mustCopy(conn, os.Stdin)
    let mut stdin = common::stdin(canned);
    let mut buf = Vec::new();
    loop {
        buf.clear();
        match stdin.read_until(b'\n', &mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(_) => {
                if wr.write_all(&buf).await.is_err() {
                    break;
                }
            }
        }
    }
    let _ = wr.close().await; // conn.CloseWrite()
    done.recv().await; // wait for background goroutine to finish
}

#[gorun::main]
pub async fn main() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    go(reverb(listener));
    netcat3(addr, "Hello?\nIs there anybody there?\n").await;
}
