//! Who a request comes from, behind a reverse proxy: `X-Forwarded-For` and
//! `X-Forwarded-Proto` are believed only when the connection comes from a
//! configured trusted proxy (`[server] trusted_proxies`); from anyone
//! else they are ignored, so a client cannot choose its own address for
//! the login throttle.

use std::net::IpAddr;

use axum::http::HeaderMap;

use crate::net::Cidr;

#[derive(Clone, Debug, Default)]
pub struct Proxies(Vec<Cidr>);

impl Proxies {
    /// From the configuration, which has checked every entry.
    pub fn new(list: &[String]) -> Proxies {
        Proxies(list.iter().filter_map(|p| Cidr::parse(p)).collect())
    }

    pub fn trusts(&self, ip: IpAddr) -> bool {
        self.0.iter().any(|c| c.contains(ip))
    }

    /// The client's address: the peer's, or when the peer is a trusted
    /// proxy, the nearest address in `X-Forwarded-For` that is not one.
    pub fn client(&self, peer: IpAddr, headers: &HeaderMap) -> IpAddr {
        if !self.trusts(peer) {
            return peer;
        }
        let mut client = peer;
        // Each proxy appends the address it received from; read from the
        // right, skipping our own proxies.
        let hops: Vec<&str> = headers
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .collect();
        for hop in hops.iter().rev() {
            match hop.trim().parse::<IpAddr>() {
                Ok(ip) => {
                    client = ip;
                    if !self.trusts(ip) {
                        break;
                    }
                }
                // A malformed entry ends what can be believed.
                Err(_) => break,
            }
        }
        client
    }

    /// Whether the client reached the proxy over HTTPS.
    pub fn https(&self, peer: IpAddr, headers: &HeaderMap) -> bool {
        self.trusts(peer)
            && headers
                .get("x-forwarded-proto")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.split(',').next())
                .is_some_and(|v| v.trim().eq_ignore_ascii_case("https"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(*k, v.parse().unwrap());
        }
        h
    }

    #[test]
    fn forwarded_headers_count_only_from_trusted_proxies() {
        let proxies = Proxies::new(&["10.0.0.0/8".into()]);
        let h = headers(&[
            ("x-forwarded-for", "1.2.3.4, 10.0.0.9"),
            ("x-forwarded-proto", "https"),
        ]);
        let proxy: IpAddr = "10.0.0.1".parse().unwrap();
        let stranger: IpAddr = "8.8.8.8".parse().unwrap();
        assert_eq!(
            proxies.client(proxy, &h),
            "1.2.3.4".parse::<IpAddr>().unwrap()
        );
        assert!(proxies.https(proxy, &h));
        assert_eq!(proxies.client(stranger, &h), stranger);
        assert!(!proxies.https(stranger, &h));
        // A client's own X-Forwarded-For entry left of the real one is not
        // believed.
        let spoofed = headers(&[("x-forwarded-for", "9.9.9.9, 1.2.3.4")]);
        assert_eq!(
            proxies.client(proxy, &spoofed),
            "1.2.3.4".parse::<IpAddr>().unwrap()
        );
        assert_eq!(Proxies::default().client(proxy, &h), proxy);
    }
}
