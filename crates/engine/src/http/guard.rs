//! SSRF guard: which hosts and addresses outbound requests may reach.
//!
//! Addresses are checked in two places so that nothing is connected to unchecked: each URL
//! (the first and every redirect hop) before it is sent — scheme, IP-literal hosts, cloud
//! metadata names — and every address a host name resolves to, inside [`GuardedResolver`],
//! the client's DNS resolver. The connection uses only the addresses that passed, so a name
//! that resolves to a public address when checked and to a private one when connecting
//! (DNS rebinding) cannot slip through.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use ipnet::IpNet;

use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use url::{Host, Url};

use super::address::{AddressKind, classify_ip};

/// Setting that lists hosts outbound requests may reach whatever their address.
pub const ALLOW_HOSTS_SETTING: &str = "WEFT_HTTP_ALLOW_HOSTS";
/// Setting that opens private, loopback and other non-public addresses (not link-local).
pub const ALLOW_PRIVATE_SETTING: &str = "WEFT_HTTP_ALLOW_PRIVATE";

/// Host names of cloud metadata services, refused unless allow-listed by name.
const METADATA_HOSTS: [&str; 7] = [
    "metadata",
    "metadata.google.internal",
    "metadata.goog",
    "metadata.azure.internal",
    "instance-data",
    "instance-data.ec2.internal",
    "metadata.tencentyun.com",
];

/// A refused destination. The message names the address kind and how to allow it.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// An IP-literal host that is not public.
    #[error("refused: {ip} is {}; {}", kind.describe(), remedy(*kind))]
    Address {
        /// The address in the URL.
        ip: IpAddr,
        /// Why it is refused.
        kind: AddressKind,
    },
    /// A host name whose addresses are all refused.
    #[error("refused: {host} resolves to {ip}, {}; {}", kind.describe(), remedy(*kind))]
    Resolved {
        /// The name in the URL.
        host: String,
        /// The first refused address.
        ip: IpAddr,
        /// Why it is refused.
        kind: AddressKind,
    },
    /// A cloud metadata host name such as `metadata.google.internal`.
    #[error("refused: {host} is a cloud-metadata host name; allow it with {ALLOW_HOSTS_SETTING}")]
    MetadataHost {
        /// The name in the URL.
        host: String,
    },
    /// A scheme other than `http` and `https`.
    #[error("refused: unsupported URL scheme `{scheme}`; only http and https are allowed")]
    Scheme {
        /// The URL's scheme.
        scheme: String,
    },
    /// A URL without a host.
    #[error("refused: the URL has no host")]
    NoHost,
}

/// How to open an address of this kind.
fn remedy(kind: AddressKind) -> String {
    if kind.opened_by_allow_private() {
        format!("allow it with {ALLOW_HOSTS_SETTING} or {ALLOW_PRIVATE_SETTING}=true")
    } else {
        format!("allow it with {ALLOW_HOSTS_SETTING}")
    }
}

/// An allow-list entry that could not be understood.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("invalid {ALLOW_HOSTS_SETTING} entry `{entry}`: {reason}")]
pub struct InvalidAllowEntry {
    /// The entry as given.
    pub entry: String,
    /// What is wrong with it.
    pub reason: &'static str,
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum AllowEntry {
    Name { name: String, port: Option<u16> },
    Ip { ip: IpAddr, port: Option<u16> },
    Net(IpNet),
}

fn parse_entry(raw: &str) -> Result<AllowEntry, InvalidAllowEntry> {
    let invalid = |reason| InvalidAllowEntry { entry: raw.to_owned(), reason };
    let entry = raw.trim();
    if entry.is_empty() {
        return Err(invalid("empty"));
    }
    if entry.contains('/') {
        return entry.parse::<IpNet>().map(AllowEntry::Net).map_err(|_| invalid("not a CIDR network"));
    }
    if let Ok(ip) = entry.parse::<IpAddr>() {
        return Ok(AllowEntry::Ip { ip, port: None });
    }
    // `host:port` or `[v6]:port`; a bare IPv6 address was taken above.
    let (host, port) = match entry.rsplit_once(':') {
        Some((host, port)) if !port.contains(']') => {
            (host, Some(port.parse::<u16>().map_err(|_| invalid("not a valid port"))?))
        }
        _ => (entry, None),
    };
    // `Host::parse` applies the URL rules, so entries compare equal to URL hosts.
    match Host::parse(host).map_err(|_| invalid("not a host name or IP address"))? {
        Host::Domain(name) => Ok(AllowEntry::Name { name: normalize_name(&name), port }),
        Host::Ipv4(ip) => Ok(AllowEntry::Ip { ip: IpAddr::V4(ip), port }),
        Host::Ipv6(ip) => Ok(AllowEntry::Ip { ip: IpAddr::V6(ip), port }),
    }
}

fn normalize_name(name: &str) -> String {
    name.trim_end_matches('.').to_ascii_lowercase()
}

/// What [`OutboundPolicy::check_url`] leaves to do before a URL may be sent.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum HostCheck {
    /// Nothing: an allow-listed host or a permitted IP literal.
    Allowed,
    /// A host name: its addresses are checked when the client resolves it.
    AtResolution,
    /// A host name allow-listed on other ports only: the client's resolver trusts it, so
    /// its addresses must be checked with [`OutboundPolicy::lookup`] first.
    LookupFirst(String),
}

/// Where outbound requests may go. The default refuses every non-public address.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct OutboundPolicy {
    allow_private: bool,
    allow: Vec<AllowEntry>,
}

impl OutboundPolicy {
    /// A policy from settings. `allow_private` opens every non-public address except
    /// link-local ones (cloud metadata); `allow_hosts` entries are host names, IP addresses
    /// or CIDR networks, names and addresses optionally with a port (`127.0.0.1:8080`,
    /// `[::1]:8080`, `api.internal`, `10.1.0.0/16`). A listed host is reachable whatever
    /// its address.
    pub fn new<I, S>(allow_private: bool, allow_hosts: I) -> Result<Self, InvalidAllowEntry>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let allow =
            allow_hosts.into_iter().map(|entry| parse_entry(entry.as_ref())).collect::<Result<_, _>>()?;
        Ok(Self { allow_private, allow })
    }

    /// Whether non-public addresses other than link-local ones are open.
    pub fn allows_private(&self) -> bool {
        self.allow_private
    }

    /// Checks a URL's scheme and host; see [`HostCheck`] for what is left.
    pub fn check_url(&self, url: &Url) -> Result<HostCheck, Refusal> {
        if !matches!(url.scheme(), "http" | "https") {
            return Err(Refusal::Scheme { scheme: url.scheme().to_owned() });
        }
        let port = url.port_or_known_default();
        match url.host().ok_or(Refusal::NoHost)? {
            Host::Ipv4(ip) => self.check_ip(IpAddr::V4(ip), port).map(|()| HostCheck::Allowed),
            Host::Ipv6(ip) => self.check_ip(IpAddr::V6(ip), port).map(|()| HostCheck::Allowed),
            Host::Domain(name) => {
                let name = normalize_name(name);
                // The URL parser turns numeric hosts into IPv4 ones; this is belt and braces.
                if let Ok(ip) = name.parse::<IpAddr>() {
                    return self.check_ip(ip, port).map(|()| HostCheck::Allowed);
                }
                let listed_ports = self.listed_ports(&name);
                if listed_ports.iter().any(|listed| listed.is_none() || *listed == port) {
                    Ok(HostCheck::Allowed)
                } else if METADATA_HOSTS.contains(&name.as_str()) {
                    Err(Refusal::MetadataHost { host: name })
                } else if listed_ports.is_empty() {
                    Ok(HostCheck::AtResolution)
                } else {
                    Ok(HostCheck::LookupFirst(name))
                }
            }
        }
    }

    /// Checks an IP literal reached on `port`.
    pub fn check_ip(&self, ip: IpAddr, port: Option<u16>) -> Result<(), Refusal> {
        let listed = self.allow.iter().any(|entry| match entry {
            AllowEntry::Ip { ip: listed, port: listed_port } => {
                *listed == ip && (listed_port.is_none() || *listed_port == port)
            }
            AllowEntry::Net(net) => net.contains(&ip),
            AllowEntry::Name { .. } => false,
        });
        match self.refused_kind(ip) {
            Some(kind) if !listed => Err(Refusal::Address { ip, kind }),
            _ => Ok(()),
        }
    }

    /// Resolves a host name to the addresses the policy lets it reach, refusing it when none
    /// is left. `trust_name`: an allow-listed name may reach any address.
    pub async fn lookup(&self, host: &str, trust_name: bool) -> Result<Vec<SocketAddr>, LookupError> {
        let name = normalize_name(host);
        let trusted = trust_name && !self.listed_ports(&name).is_empty();
        if !trusted && METADATA_HOSTS.contains(&name.as_str()) {
            return Err(Refusal::MetadataHost { host: name }.into());
        }
        let resolved: Vec<SocketAddr> = tokio::net::lookup_host((name.clone(), 0))
            .await
            .map_err(|source| LookupError::Dns { host: name.clone(), source })?
            .collect();
        if trusted {
            return Ok(resolved);
        }
        let (allowed, refused): (Vec<_>, Vec<_>) =
            resolved.into_iter().partition(|addr| self.refused_kind_unlisted(addr.ip()).is_none());
        match (allowed.is_empty(), refused.first()) {
            (true, Some(addr)) => {
                let ip = addr.ip();
                let kind = self.refused_kind(ip).unwrap_or(AddressKind::Reserved);
                Err(Refusal::Resolved { host: name, ip, kind }.into())
            }
            _ => {
                if !refused.is_empty() {
                    tracing::debug!(host = %name, n_refused = refused.len(), "dropped refused addresses");
                }
                Ok(allowed)
            }
        }
    }

    /// Ports the name is allow-listed on (`None`: any port).
    fn listed_ports(&self, name: &str) -> Vec<Option<u16>> {
        self.allow
            .iter()
            .filter_map(|entry| match entry {
                AllowEntry::Name { name: listed, port } if listed == name => Some(*port),
                _ => None,
            })
            .collect()
    }

    /// The kind that refuses `ip`, ignoring the allow-list.
    fn refused_kind(&self, ip: IpAddr) -> Option<AddressKind> {
        classify_ip(ip).filter(|kind| !(self.allow_private && kind.opened_by_allow_private()))
    }

    /// The kind that refuses a resolved address: allow-list entries without a port count,
    /// since the resolver does not know the port.
    fn refused_kind_unlisted(&self, ip: IpAddr) -> Option<AddressKind> {
        let listed = self.allow.iter().any(|entry| match entry {
            AllowEntry::Ip { ip: listed, port: None } => *listed == ip,
            AllowEntry::Net(net) => net.contains(&ip),
            _ => false,
        });
        if listed { None } else { self.refused_kind(ip) }
    }
}

/// Why a host name could not be resolved to a permitted address.
#[derive(Debug, thiserror::Error)]
pub enum LookupError {
    /// Every address was refused, or the name is a metadata name.
    #[error(transparent)]
    Refused(#[from] Refusal),
    /// DNS failed.
    #[error("dns lookup of {host} failed: {source}")]
    Dns {
        /// The name looked up.
        host: String,
        /// The resolver's error.
        source: std::io::Error,
    },
}

/// The client's DNS resolver: resolves with the system resolver and hands the connector only
/// the addresses [`OutboundPolicy::lookup`] lets through.
#[derive(Clone, Debug)]
pub(crate) struct GuardedResolver {
    pub(crate) policy: Arc<OutboundPolicy>,
}

impl Resolve for GuardedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let policy = Arc::clone(&self.policy);
        let host = name.as_str().to_owned();
        Box::pin(async move {
            match policy.lookup(&host, true).await {
                Ok(addrs) => Ok(Box::new(addrs.into_iter()) as Addrs),
                Err(err) => Err(Box::new(err) as Box<dyn std::error::Error + Send + Sync>),
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url_check(policy: &OutboundPolicy, url: &str) -> Result<HostCheck, Refusal> {
        policy.check_url(&Url::parse(url).unwrap())
    }

    #[test]
    fn odd_ipv4_forms_in_urls_are_normalised_and_refused() {
        let policy = OutboundPolicy::default();
        for url in [
            "http://2130706433/",
            "http://0x7f000001/",
            "http://0x7f.0.0.1/",
            "http://0177.0.0.1/",
            "http://017700000001/",
            "http://127.1/",
            "http://127.0.1/",
            "http://127.000.000.001/",
            "http://[::1]/",
            "http://[::ffff:127.0.0.1]/",
            "http://[::ffff:7f00:1]:8080/",
        ] {
            let refusal = url_check(&policy, url).unwrap_err();
            assert!(
                matches!(refusal, Refusal::Address { kind: AddressKind::Loopback, .. }),
                "{url}: {refusal:?}"
            );
        }
        assert_eq!(Url::parse("http://0x7f000001/").unwrap().host_str(), Some("127.0.0.1"));
        for (url, expected) in [
            ("http://[fd00::1]/", AddressKind::Private),
            ("http://[fe80::1]/", AddressKind::LinkLocal),
            ("http://0/", AddressKind::Unspecified),
            ("http://0xa9fea9fe/", AddressKind::LinkLocal),
            ("http://2852039166/", AddressKind::LinkLocal),
            ("http://0300.0250.1.1/", AddressKind::Private),
        ] {
            let refusal = url_check(&policy, url).unwrap_err();
            assert!(
                matches!(refusal, Refusal::Address { kind, .. } if kind == expected),
                "{url}: {refusal:?}"
            );
        }
    }

    #[test]
    fn refusal_names_the_kind_and_the_remedy() {
        let policy = OutboundPolicy::default();
        let refusal = url_check(&policy, "http://169.254.169.254/latest/meta-data/").unwrap_err();
        assert_eq!(
            refusal.to_string(),
            "refused: 169.254.169.254 is a link-local/cloud-metadata address; allow it with WEFT_HTTP_ALLOW_HOSTS"
        );
        let refusal = url_check(&policy, "http://10.0.0.1/").unwrap_err();
        assert_eq!(
            refusal.to_string(),
            "refused: 10.0.0.1 is a private-network address; \
             allow it with WEFT_HTTP_ALLOW_HOSTS or WEFT_HTTP_ALLOW_PRIVATE=true"
        );
    }

    #[test]
    fn public_hosts_pass_and_names_wait_for_resolution() {
        let policy = OutboundPolicy::default();
        assert_eq!(url_check(&policy, "https://8.8.8.8/").unwrap(), HostCheck::Allowed);
        assert_eq!(url_check(&policy, "https://[2606:4700::1111]/").unwrap(), HostCheck::Allowed);
        assert_eq!(url_check(&policy, "https://example.com/x").unwrap(), HostCheck::AtResolution);
    }

    #[test]
    fn only_http_and_https() {
        let policy = OutboundPolicy::default();
        for url in ["ftp://example.com/", "file:///etc/passwd", "gopher://example.com/", "data:text/plain,x"]
        {
            assert!(matches!(url_check(&policy, url), Err(Refusal::Scheme { .. })), "{url}");
        }
    }

    #[test]
    fn metadata_names_are_refused_unless_listed() {
        let policy = OutboundPolicy::default();
        for url in [
            "http://metadata.google.internal/computeMetadata/v1/",
            "http://METADATA.google.internal./",
            "http://metadata/",
            "http://instance-data/latest/",
        ] {
            assert!(matches!(url_check(&policy, url), Err(Refusal::MetadataHost { .. })), "{url}");
        }
        let policy = OutboundPolicy::new(false, ["metadata.google.internal"]).unwrap();
        assert_eq!(url_check(&policy, "http://metadata.google.internal/").unwrap(), HostCheck::Allowed);
    }

    #[test]
    fn allow_list_entries_match_host_and_port() {
        let policy = OutboundPolicy::new(
            false,
            ["127.0.0.1:8080", "[::1]:9000", "10.0.0.0/8", "API.Internal", "svc:81"],
        )
        .unwrap();
        assert_eq!(url_check(&policy, "http://127.0.0.1:8080/").unwrap(), HostCheck::Allowed);
        assert!(url_check(&policy, "http://127.0.0.1:8081/").is_err());
        assert!(url_check(&policy, "http://127.0.0.1/").is_err());
        assert_eq!(url_check(&policy, "http://[::1]:9000/").unwrap(), HostCheck::Allowed);
        assert!(url_check(&policy, "http://[::1]:9001/").is_err());
        assert_eq!(url_check(&policy, "http://10.20.30.40/").unwrap(), HostCheck::Allowed);
        assert_eq!(url_check(&policy, "https://api.internal/").unwrap(), HostCheck::Allowed);
        assert_eq!(url_check(&policy, "http://svc:81/").unwrap(), HostCheck::Allowed);
        assert_eq!(url_check(&policy, "http://svc/").unwrap(), HostCheck::LookupFirst("svc".into()));
        assert!(url_check(&policy, "http://192.168.0.1/").is_err());
    }

    #[test]
    fn allow_list_entries_are_parsed_like_url_hosts() {
        let parse = |raw: &str| parse_entry(raw).unwrap();
        assert_eq!(
            parse("2130706433:80"),
            AllowEntry::Ip { ip: "127.0.0.1".parse().unwrap(), port: Some(80) }
        );
        assert_eq!(parse("::1"), AllowEntry::Ip { ip: "::1".parse().unwrap(), port: None });
        assert_eq!(parse("Host.Example."), AllowEntry::Name { name: "host.example".into(), port: None });
        for bad in ["", "host:99999", "10.0.0.0/40", "bad host", "[::1"] {
            assert!(parse_entry(bad).is_err(), "{bad}");
        }
        let err = OutboundPolicy::new(false, ["ok.example", "x:y"]).unwrap_err();
        assert_eq!(err.to_string(), "invalid WEFT_HTTP_ALLOW_HOSTS entry `x:y`: not a valid port");
    }

    #[test]
    fn allow_private_keeps_link_local_closed() {
        let policy = OutboundPolicy::new(true, Vec::<String>::new()).unwrap();
        assert!(policy.allows_private());
        for url in ["http://127.0.0.1/", "http://10.0.0.1/", "http://[fd00::1]/", "http://100.64.0.1/"] {
            assert_eq!(url_check(&policy, url).unwrap(), HostCheck::Allowed, "{url}");
        }
        for url in ["http://169.254.169.254/", "http://[fe80::1]/", "http://[fd00:ec2::254]/"] {
            assert!(url_check(&policy, url).is_err(), "{url}");
        }
    }

    #[tokio::test]
    async fn lookup_refuses_names_resolving_to_loopback() {
        let policy = OutboundPolicy::new(false, ["127.0.0.1:8080"]).unwrap();
        let err = policy.lookup("localhost", true).await.unwrap_err();
        let LookupError::Refused(refusal) = err else { panic!("expected a refusal, got {err}") };
        assert!(matches!(refusal, Refusal::Resolved { kind: AddressKind::Loopback, .. }), "{refusal:?}");
        assert!(refusal.to_string().starts_with("refused: localhost resolves to "), "{refusal}");

        let listed = OutboundPolicy::new(false, ["localhost"]).unwrap();
        assert!(!listed.lookup("localhost", true).await.unwrap().is_empty());
        assert!(listed.lookup("localhost", false).await.is_err());

        let by_address = OutboundPolicy::new(false, ["127.0.0.0/8", "::1"]).unwrap();
        assert!(!by_address.lookup("localhost", false).await.unwrap().is_empty());

        let open = OutboundPolicy::new(true, Vec::<String>::new()).unwrap();
        assert!(!open.lookup("localhost", true).await.unwrap().is_empty());
    }
}
