//! UDP: datagram round trips, addressed and connected.

use std::time::Duration;

use gorun::net::UdpSocket;

mod common;
use common::run;

#[test]
fn udp_round_trip() {
    run(30, async {
        let server = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let saddr = server.local_addr().unwrap();
        let echo = gorun::go(async move {
            let mut buf = [0u8; 1500];
            for _ in 0..10 {
                let (n, from) = server.recv_from(&mut buf).await.unwrap();
                server.send_to(&buf[..n], from).await.unwrap();
            }
        });
        let client = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let mut buf = [0u8; 1500];
        for i in 0..10u8 {
            let msg = [i; 100];
            client.send_to(&msg, saddr).await.unwrap();
            let (n, from) = client.recv_from(&mut buf).await.unwrap();
            assert_eq!(from, saddr);
            assert_eq!(&buf[..n], &msg[..]);
        }
        echo.await.unwrap();
    });
}

#[test]
fn connected_udp_send_and_recv() {
    run(30, async {
        let a = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let b = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        a.connect(b.local_addr().unwrap()).await.unwrap();
        b.connect(a.local_addr().unwrap()).await.unwrap();
        let recv = gorun::go(async move {
            let mut buf = [0u8; 16];
            let n = b.recv(&mut buf).await.unwrap();
            buf[..n].to_vec()
        });
        gorun::time::sleep(Duration::from_millis(10)).await;
        a.send(b"datagram").await.unwrap();
        assert_eq!(recv.await.unwrap(), b"datagram");
    });
}
