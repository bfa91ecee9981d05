//! What leaves the server for addresses customers give: the guard that keeps
//! webhook deliveries (and OAuth token requests) off private networks.

use std::net::{IpAddr, Ipv4Addr};

const MAX_URL: usize = 2048;

/// An http(s) URL a delivery may go to, normalized; or why not, for the
/// request field `field`. Unless `allow_private` (sandbox), its host must
/// resolve to public addresses only, every one of them.
pub async fn check_target(field: &str, text: &str, allow_private: bool) -> Result<String, String> {
    let url = parse_target(field, text)?;
    if !allow_private {
        let host = url.host_str().unwrap_or_default();
        let port = url.port_or_known_default().unwrap_or(443);
        let addresses: Vec<IpAddr> = match literal_ip(host) {
            Some(ip) => vec![ip],
            None => (tokio::net::lookup_host((host, port)).await)
                .map_err(|e| format!("{field}: cannot resolve host {host:?}: {e}"))?
                .map(|a| a.ip())
                .collect(),
        };
        if addresses.is_empty() {
            return Err(format!("{field}: host {host} resolves to no address"));
        }
        if let Some(bad) = addresses.iter().find(|ip| !is_public(**ip)) {
            return Err(format!(
                "{field}: {host} is {bad}, a loopback, private or reserved address; \
                 production mode delivers only to public addresses (sandbox mode allows any)"
            ));
        }
    }
    Ok(url.to_string())
}

/// The URL's shape: http(s), a host, no credentials, no fragment.
fn parse_target(field: &str, text: &str) -> Result<reqwest::Url, String> {
    if text.len() > MAX_URL {
        return Err(format!("{field} must be at most {MAX_URL} characters"));
    }
    let url = reqwest::Url::parse(text.trim())
        .map_err(|e| format!("{field} {text:?} is not a URL: {e}"))?;
    if !matches!(url.scheme(), "http" | "https") {
        let scheme = url.scheme();
        return Err(format!(
            "{field} must be an http:// or https:// URL, got scheme {scheme:?}"
        ));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(format!(
            "{field} must not carry credentials; use consumer_auth"
        ));
    }
    if url.fragment().is_some() {
        return Err(format!("{field} must not have a #fragment"));
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(format!("{field} must name a host"));
    }
    Ok(url)
}

/// Whether an address is on the public internet: not loopback, private
/// (RFC 1918, unique local), link-local, CGNAT, unspecified, broadcast,
/// multicast, documentation, benchmarking or reserved.
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_public_v4(v4),
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_public_v4(v4);
            }
            let s = v6.segments();
            !(v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || (s[0] & 0xfe00) == 0xfc00 // unique local fc00::/7
                || (s[0] & 0xffc0) == 0xfe80 // link-local fe80::/10
                || (s[0] & 0xffc0) == 0xfec0 // site-local fec0::/10
                || (s[0] == 0x2001 && s[1] == 0x0db8) // documentation
                || (s[0] == 0x0064 && s[1] == 0xff9b) // NAT64 reaches IPv4 inside
                || (s[0] == 0 && s[1] == 0 && s[2] == 0 && s[3] == 0 && s[4] == 0 && s[5] == 0))
            // IPv4-compatible
        }
    }
}

fn is_public_v4(ip: Ipv4Addr) -> bool {
    let [a, b, c, _] = ip.octets();
    !(ip.is_loopback()
        || ip.is_private()
        || ip.is_link_local()
        || ip.is_unspecified()
        || ip.is_broadcast()
        || ip.is_multicast()
        || ip.is_documentation()
        || a == 0
        || (a == 100 && (64..128).contains(&b)) // CGNAT 100.64/10
        || (a == 192 && b == 0 && c == 0) // IETF protocol assignments
        || (a == 198 && (b == 18 || b == 19)) // benchmarking
        || a >= 240) // reserved
}

/// The address a URL host names literally (`[…]` around IPv6), if it does.
pub fn literal_ip(host: &str) -> Option<IpAddr> {
    host.trim_start_matches('[')
        .trim_end_matches(']')
        .parse()
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn public_addresses() {
        for private in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "0.0.0.0",
            "100.64.0.1",
            "224.0.0.1",
            "255.255.255.255",
            "::1",
            "::",
            "fd00::1",
            "fe80::1",
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
            "64:ff9b::a00:1",
        ] {
            assert!(!is_public(private.parse().unwrap()), "{private}");
        }
        for public in [
            "8.8.8.8",
            "1.1.1.1",
            "2606:4700:4700::1111",
            "::ffff:8.8.8.8",
        ] {
            assert!(is_public(public.parse().unwrap()), "{public}");
        }
    }

    #[tokio::test]
    async fn targets() {
        assert!(check_target("url", "ftp://example.com/x", true)
            .await
            .is_err());
        assert!(check_target("url", "not a url", true).await.is_err());
        assert!(check_target("url", "http://user:pw@example.com/", true)
            .await
            .is_err());
        assert!(check_target("url", "http://127.0.0.1:9/x", true)
            .await
            .is_ok());
        assert!(check_target("url", "http://127.0.0.1:9/x", false)
            .await
            .is_err());
        assert!(check_target("url", "http://[::1]:9/x", false)
            .await
            .is_err());
        assert!(check_target("url", "http://localhost:9/x", false)
            .await
            .is_err());
        assert!(check_target("url", "http://8.8.8.8/x", false).await.is_ok());
    }
}
