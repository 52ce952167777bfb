//! A small authoritative DNS server on UDP loopback for the custom-domain
//! tests: answers TXT questions from a table the test edits (RFC 1035 wire
//! format), NXDOMAIN for names it does not hold.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use tokio::net::UdpSocket;

#[derive(Clone)]
pub struct FakeDns {
    pub addr: SocketAddr,
    txt: Arc<Mutex<HashMap<String, Vec<String>>>>,
    pub queries: Arc<Mutex<Vec<String>>>,
}

impl FakeDns {
    pub async fn start() -> Self {
        let socket = UdpSocket::bind("127.0.0.1:0").await.expect("bind dns");
        let addr = socket.local_addr().expect("addr");
        let txt: Arc<Mutex<HashMap<String, Vec<String>>>> = Arc::default();
        let queries: Arc<Mutex<Vec<String>>> = Arc::default();
        let (table, log) = (txt.clone(), queries.clone());
        tokio::spawn(async move {
            let mut buf = [0u8; 1500];
            loop {
                let Ok((n, peer)) = socket.recv_from(&mut buf).await else { continue };
                let reply = respond(&buf[..n], &table.lock().expect("table"));
                if let Some((name, answer)) = reply {
                    log.lock().expect("log").push(name);
                    let _ = socket.send_to(&answer, peer).await;
                }
            }
        });
        Self { addr, txt, queries }
    }

    /// Sets the TXT strings of `name` (replacing any).
    pub fn set_txt(&self, name: &str, values: &[&str]) {
        self.txt
            .lock()
            .expect("table")
            .insert(name.to_ascii_lowercase(), values.iter().map(|v| v.to_string()).collect());
    }

    pub fn remove(&self, name: &str) {
        self.txt.lock().expect("table").remove(&name.to_ascii_lowercase());
    }
}

/// The question's name and the response to send, or `None` for garbage.
fn respond(q: &[u8], table: &HashMap<String, Vec<String>>) -> Option<(String, Vec<u8>)> {
    if q.len() < 12 || u16::from_be_bytes([q[4], q[5]]) != 1 {
        return None;
    }
    let mut labels = Vec::new();
    let mut i = 12;
    loop {
        let len = *q.get(i)? as usize;
        i += 1;
        if len == 0 {
            break;
        }
        if len > 63 {
            return None;
        }
        labels.push(String::from_utf8_lossy(q.get(i..i + len)?).to_ascii_lowercase());
        i += len;
    }
    let qtype = u16::from_be_bytes([*q.get(i)?, *q.get(i + 1)?]);
    let question_end = i + 4;
    q.get(question_end - 1)?;
    let name = labels.join(".");
    let records = table.get(&name);
    let answers: Vec<&String> = match (records, qtype) {
        (Some(r), 16) => r.iter().collect(),
        _ => Vec::new(),
    };
    let rcode = if records.is_none() { 3 } else { 0 };
    let mut out = Vec::with_capacity(512);
    out.extend_from_slice(&q[0..2]); // id
    let rd = q[2] & 0x01;
    out.push(0x84 | rd); // QR, AA, RD copied
    out.push(0x80 | rcode); // RA, rcode
    out.extend_from_slice(&1u16.to_be_bytes());
    out.extend_from_slice(&(answers.len() as u16).to_be_bytes());
    out.extend_from_slice(&[0, 0, 0, 0]);
    out.extend_from_slice(&q[12..question_end]);
    for text in answers {
        let bytes = text.as_bytes();
        let chunks: Vec<&[u8]> = bytes.chunks(255).collect();
        let rdlen: usize = chunks.iter().map(|c| c.len() + 1).sum();
        out.extend_from_slice(&[0xC0, 0x0C, 0, 16, 0, 1, 0, 0, 0, 0]);
        out.extend_from_slice(&(rdlen as u16).to_be_bytes());
        for c in chunks {
            out.push(c.len() as u8);
            out.extend_from_slice(c);
        }
    }
    Some((name, out))
}
