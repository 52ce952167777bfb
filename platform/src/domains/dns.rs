//! Proving control of a domain: the TXT record `_kapu-challenge.{hostname}`
//! must hold the domain's token. Looked up with hickory-resolver, through
//! `KAPU_DNS_RESOLVER` when set (tests run a local DNS server) or the
//! system's resolvers. A fresh resolver per check, so a record the merchant
//! just added is not hidden by a cached "no such record".

use std::net::SocketAddr;
use std::time::Duration;

use hickory_resolver::Resolver;
use hickory_resolver::config::{NameServerConfig, ResolverConfig, ResolverOpts};
use hickory_resolver::net::runtime::TokioRuntimeProvider;
use hickory_resolver::proto::rr::RData;
use kapu_core::store::domains::challenge_name;

fn resolver(server: Option<&str>) -> Result<Resolver<TokioRuntimeProvider>, String> {
    let mut opts = ResolverOpts::default();
    opts.timeout = Duration::from_secs(3);
    opts.attempts = 2;
    opts.cache_size = 0;
    let builder = match server {
        Some(addr) => {
            let addr: SocketAddr = addr.parse().map_err(|_| format!("KAPU_DNS_RESOLVER is not ip:port: {addr:?}"))?;
            let mut ns = NameServerConfig::udp(addr.ip());
            for c in &mut ns.connections {
                c.port = addr.port();
            }
            Resolver::builder_with_config(ResolverConfig::from_name_servers(vec![ns]), TokioRuntimeProvider::default())
        }
        None => Resolver::builder_tokio().map_err(|e| format!("system DNS configuration: {e}"))?,
    };
    builder.with_options(opts).build().map_err(|e| format!("DNS resolver: {e}"))
}

/// The TXT strings at `name` (each record's pieces joined).
pub async fn txt_records(server: Option<&str>, name: &str) -> Result<Vec<String>, String> {
    let fqdn = format!("{}.", name.trim_end_matches('.'));
    let lookup = match resolver(server)?.txt_lookup(fqdn).await {
        Ok(l) => l,
        Err(e) if e.is_no_records_found() || e.is_nx_domain() => return Ok(Vec::new()),
        Err(e) => return Err(format!("DNS lookup failed: {e}")),
    };
    Ok(lookup
        .answers()
        .iter()
        .filter_map(|r| match &r.data {
            RData::TXT(txt) => {
                Some(txt.txt_data.iter().map(|part| String::from_utf8_lossy(part).into_owned()).collect::<String>())
            }
            _ => None,
        })
        .collect())
}

/// `Ok` when `_kapu-challenge.{hostname}` holds `token`; otherwise what the
/// merchant should fix, in both languages.
pub async fn check_challenge(server: Option<&str>, hostname: &str, token: &str) -> Result<(), String> {
    let name = challenge_name(hostname);
    let found = txt_records(server, &name).await?;
    if found.iter().any(|t| t.trim() == token) {
        return Ok(());
    }
    if found.is_empty() {
        Err(format!(
            "没有找到 TXT 记录 {name}（DNS 生效可能需要几分钟）。No TXT record at {name} yet (DNS changes can take minutes)."
        ))
    } else {
        Err(format!("{name} 的 TXT 记录与验证码不符。The TXT record at {name} does not match this domain's token."))
    }
}
