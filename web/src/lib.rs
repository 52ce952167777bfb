//! HTTP helpers shared by the storefront runtime and the platform (dashboard):
//! the client's address behind trusted proxies, the same-origin check that
//! guards form posts, and reading a cookie. Pure functions over `http`
//! types, no framework.

pub mod i18n;
pub mod notice;
pub mod route_book;

use std::net::IpAddr;

pub use route_book::RouteBook;

use http::HeaderMap;
use ipnet::IpNet;

/// The client's address: the peer, or, when the peer is a trusted proxy, the
/// right-most `X-Forwarded-For` entry that is not itself trusted.
pub fn client_ip(peer: IpAddr, headers: &HeaderMap, trusted: &[IpNet]) -> IpAddr {
    let is_trusted = |ip: &IpAddr| trusted.iter().any(|n| n.contains(ip));
    if !is_trusted(&peer) {
        return peer;
    }
    let hops: Vec<IpAddr> = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|s| s.trim().parse().ok())
        .collect();
    hops.into_iter().rev().find(|ip| !is_trusted(ip)).unwrap_or(peer)
}

/// True when the request demonstrably comes from a page of `base_url` (`scheme://host[:port]`).
pub fn same_origin(headers: &HeaderMap, base_url: &str) -> bool {
    let get = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    if let Some(origin) = get("origin") {
        return origin.eq_ignore_ascii_case(base_url);
    }
    if let Some(site) = get("sec-fetch-site") {
        return site == "same-origin";
    }
    match get("referer") {
        Some(r) => {
            r.len() > base_url.len()
                && r[..base_url.len()].eq_ignore_ascii_case(base_url)
                && r[base_url.len()..].starts_with('/')
        }
        None => false,
    }
}

/// The value of cookie `name`, if the request carries it (and it is not empty).
pub fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(http::header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
        .filter(|v| !v.is_empty())
}

#[cfg(test)]
mod tests {
    use http::HeaderValue;

    use super::*;

    #[test]
    fn forwarded_for_is_believed_only_from_trusted_peers() {
        let mut h = HeaderMap::new();
        h.insert("x-forwarded-for", HeaderValue::from_static("1.1.1.1, 203.0.113.9, 10.0.0.2"));
        let trusted: Vec<IpNet> = vec!["10.0.0.0/8".parse().expect("net")];
        let proxy: IpAddr = "10.0.0.1".parse().expect("ip");
        let stranger: IpAddr = "198.51.100.7".parse().expect("ip");
        assert_eq!(client_ip(proxy, &h, &trusted), "203.0.113.9".parse::<IpAddr>().expect("ip"));
        assert_eq!(client_ip(stranger, &h, &trusted), stranger);
        assert_eq!(client_ip(proxy, &h, &[]), proxy);
    }

    fn h(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut m = HeaderMap::new();
        for (k, v) in pairs {
            m.insert(*k, HeaderValue::from_static(v));
        }
        m
    }

    #[test]
    fn origins() {
        let base = "http://demo.localhost:8080";
        assert!(same_origin(&h(&[("origin", "http://demo.localhost:8080")]), base));
        assert!(!same_origin(&h(&[("origin", "http://evil.example")]), base));
        assert!(!same_origin(&h(&[("origin", "null")]), base));
        assert!(same_origin(&h(&[("sec-fetch-site", "same-origin")]), base));
        assert!(!same_origin(&h(&[("sec-fetch-site", "cross-site")]), base));
        assert!(same_origin(&h(&[("referer", "http://demo.localhost:8080/products/x")]), base));
        assert!(!same_origin(&h(&[("referer", "http://demo.localhost:8080.evil.example/")]), base));
        assert!(!same_origin(&h(&[]), base));
    }
}

/// The route template that answered a request (`/orders/{order_no}`, never
/// the raw path), put on the response by [`stamp_route`] for the metrics.
#[derive(Debug, Clone)]
pub struct RouteTemplate(pub String);

/// Route layer: copies axum's matched path onto the response.
pub async fn stamp_route(req: axum::extract::Request, next: axum::middleware::Next) -> axum::response::Response {
    let template = req.extensions().get::<axum::extract::MatchedPath>().map(|m| m.as_str().to_string());
    let mut resp = next.run(req).await;
    if let Some(t) = template {
        resp.extensions_mut().insert(RouteTemplate(t));
    }
    resp
}
