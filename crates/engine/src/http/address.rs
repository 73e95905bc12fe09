//! Classification of IP addresses: which are not public, and why.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use ipnet::{Ipv4Net, Ipv6Net};

/// Metadata endpoints outside 169.254.0.0/16 (AWS over IPv6, Alibaba Cloud). They are
/// classed as link-local so that `allow_private` does not open them.
const METADATA_ADDRS: [IpAddr; 2] = [
    IpAddr::V6(Ipv6Addr::new(0xfd00, 0x0ec2, 0, 0, 0, 0, 0, 0x0254)),
    IpAddr::V4(Ipv4Addr::new(100, 100, 100, 200)),
];

/// Why an address is not public. Documentation ranges (192.0.2.0/24, 2001:db8::/32, ...)
/// are not listed: nothing answers there, so they are harmless.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum AddressKind {
    /// 127.0.0.0/8, ::1.
    Loopback,
    /// 10/8, 172.16/12, 192.168/16, fc00::/7 (unique local), fec0::/10 (site local).
    Private,
    /// 169.254/16 and fe80::/10, home of cloud metadata services (169.254.169.254).
    LinkLocal,
    /// 0.0.0.0/8 and ::, which reach the local host on many systems.
    Unspecified,
    /// 100.64/10, carrier-grade NAT.
    SharedCgnat,
    /// 255.255.255.255.
    Broadcast,
    /// 224/4, ff00::/8.
    Multicast,
    /// Other special-purpose ranges: 240/4, 192.0.0/24, 198.18/15 (benchmarking), 100::/64.
    Reserved,
}

impl AddressKind {
    /// The kind as a phrase: "a loopback address".
    pub fn describe(self) -> &'static str {
        match self {
            Self::Loopback => "a loopback address",
            Self::Private => "a private-network address",
            Self::LinkLocal => "a link-local/cloud-metadata address",
            Self::Unspecified => "an unspecified address",
            Self::SharedCgnat => "a shared (carrier-grade NAT) address",
            Self::Broadcast => "a broadcast address",
            Self::Multicast => "a multicast address",
            Self::Reserved => "a reserved address",
        }
    }

    /// Link-local addresses stay closed under `allow_private`: that is where credentials
    /// of the machine's cloud identity are served.
    pub(super) fn opened_by_allow_private(self) -> bool {
        self != Self::LinkLocal
    }
}

const fn v4(a: u8, b: u8, c: u8, d: u8, prefix: u8) -> Ipv4Net {
    Ipv4Net::new_assert(Ipv4Addr::new(a, b, c, d), prefix)
}

const fn v6(first: u16, second: u16, prefix: u8) -> Ipv6Net {
    Ipv6Net::new_assert(Ipv6Addr::new(first, second, 0, 0, 0, 0, 0, 0), prefix)
}

/// First match wins: broadcast sits inside 240/4.
const V4_RANGES: [(Ipv4Net, AddressKind); 12] = [
    (v4(0, 0, 0, 0, 8), AddressKind::Unspecified),
    (v4(10, 0, 0, 0, 8), AddressKind::Private),
    (v4(100, 64, 0, 0, 10), AddressKind::SharedCgnat),
    (v4(127, 0, 0, 0, 8), AddressKind::Loopback),
    (v4(169, 254, 0, 0, 16), AddressKind::LinkLocal),
    (v4(172, 16, 0, 0, 12), AddressKind::Private),
    (v4(192, 0, 0, 0, 24), AddressKind::Reserved),
    (v4(192, 168, 0, 0, 16), AddressKind::Private),
    (v4(198, 18, 0, 0, 15), AddressKind::Reserved),
    (v4(224, 0, 0, 0, 4), AddressKind::Multicast),
    (v4(255, 255, 255, 255, 32), AddressKind::Broadcast),
    (v4(240, 0, 0, 0, 4), AddressKind::Reserved),
];

/// Forms that embed an IPv4 address are handled before this table.
const V6_RANGES: [(Ipv6Net, AddressKind); 7] = [
    (Ipv6Net::new_assert(Ipv6Addr::UNSPECIFIED, 128), AddressKind::Unspecified),
    (Ipv6Net::new_assert(Ipv6Addr::LOCALHOST, 128), AddressKind::Loopback),
    (v6(0x0100, 0, 64), AddressKind::Reserved),
    (v6(0xfc00, 0, 7), AddressKind::Private),
    (v6(0xfe80, 0, 10), AddressKind::LinkLocal),
    (v6(0xfec0, 0, 10), AddressKind::Private),
    (v6(0xff00, 0, 8), AddressKind::Multicast),
];

/// Classifies an address: `None` for a public one.
pub fn classify_ip(ip: IpAddr) -> Option<AddressKind> {
    if METADATA_ADDRS.contains(&ip) {
        return Some(AddressKind::LinkLocal);
    }
    match ip {
        IpAddr::V4(ip) => classify_v4(ip),
        IpAddr::V6(ip) => match embedded_v4(ip) {
            Some(inner) => classify_ip(IpAddr::V4(inner)),
            None => V6_RANGES.iter().find(|(net, _)| net.contains(&ip)).map(|(_, kind)| *kind),
        },
    }
}

fn classify_v4(ip: Ipv4Addr) -> Option<AddressKind> {
    V4_RANGES.iter().find(|(net, _)| net.contains(&ip)).map(|(_, kind)| *kind)
}

/// The IPv4 address an IPv6 address carries, for the forms that route to it: mapped
/// (`::ffff:a.b.c.d`, and the SIIT `::ffff:0:a.b.c.d`), compatible (`::a.b.c.d`), NAT64
/// (64:ff9b::/96 and the local-use 64:ff9b:1::/48), 6to4 (2002::/16) and Teredo (2001::/32,
/// whose client address is stored inverted).
fn embedded_v4(ip: Ipv6Addr) -> Option<Ipv4Addr> {
    let seg = ip.segments();
    let [.., a, b, c, d] = ip.octets();
    let low32 = Ipv4Addr::new(a, b, c, d);
    match seg {
        [0, 0, 0, 0, 0, 0xffff, _, _] | [0, 0, 0, 0, 0xffff, 0, _, _] => Some(low32),
        // `::` and `::1` are themselves, not 0.0.0.0 and 0.0.0.1.
        [0, 0, 0, 0, 0, 0, 0, 0 | 1] => None,
        [0, 0, 0, 0, 0, 0, _, _] => Some(low32),
        [0x0064, 0xff9b, 0, 0, 0, 0, _, _] | [0x0064, 0xff9b, 0x0001, ..] => Some(low32),
        [0x2002, high, low, ..] => {
            let [a, b] = high.to_be_bytes();
            let [c, d] = low.to_be_bytes();
            Some(Ipv4Addr::new(a, b, c, d))
        }
        [0x2001, 0, ..] => Some(Ipv4Addr::from(!u32::from(low32))),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kind(ip: &str) -> Option<AddressKind> {
        classify_ip(ip.parse().unwrap())
    }

    #[test]
    fn classifies_ipv4_ranges() {
        use AddressKind::*;
        let cases = [
            ("127.0.0.1", Some(Loopback)),
            ("127.255.1.2", Some(Loopback)),
            ("10.1.2.3", Some(Private)),
            ("172.16.0.1", Some(Private)),
            ("172.31.255.255", Some(Private)),
            ("172.32.0.1", None),
            ("192.168.1.1", Some(Private)),
            ("169.254.169.254", Some(LinkLocal)),
            ("169.254.170.2", Some(LinkLocal)),
            ("100.100.100.200", Some(LinkLocal)),
            ("0.0.0.0", Some(Unspecified)),
            ("0.1.2.3", Some(Unspecified)),
            ("100.64.0.1", Some(SharedCgnat)),
            ("100.127.255.255", Some(SharedCgnat)),
            ("100.128.0.1", None),
            ("255.255.255.255", Some(Broadcast)),
            ("224.0.0.1", Some(Multicast)),
            ("239.255.255.250", Some(Multicast)),
            ("240.0.0.1", Some(Reserved)),
            ("198.18.0.1", Some(Reserved)),
            ("192.0.0.170", Some(Reserved)),
            ("192.0.2.1", None),
            ("203.0.113.7", None),
            ("8.8.8.8", None),
            ("1.1.1.1", None),
        ];
        for (ip, expected) in cases {
            assert_eq!(kind(ip), expected, "{ip}");
        }
    }

    #[test]
    fn classifies_ipv6_ranges_and_embedded_ipv4() {
        use AddressKind::*;
        let cases = [
            ("::1", Some(Loopback)),
            ("::", Some(Unspecified)),
            ("fd00::1", Some(Private)),
            ("fc00::1", Some(Private)),
            ("fe80::1", Some(LinkLocal)),
            ("fd00:ec2::254", Some(LinkLocal)),
            ("fec0::1", Some(Private)),
            ("ff02::1", Some(Multicast)),
            ("100::1", Some(Reserved)),
            ("::ffff:127.0.0.1", Some(Loopback)),
            ("::ffff:169.254.169.254", Some(LinkLocal)),
            ("::ffff:10.0.0.1", Some(Private)),
            ("::ffff:0:127.0.0.1", Some(Loopback)),
            ("::127.0.0.1", Some(Loopback)),
            ("::ffff:8.8.8.8", None),
            ("64:ff9b::7f00:1", Some(Loopback)),
            ("64:ff9b::a9fe:a9fe", Some(LinkLocal)),
            ("64:ff9b:1::c0a8:101", Some(Private)),
            ("64:ff9b::808:808", None),
            ("2002:7f00:1::1", Some(Loopback)),
            ("2002:808:808::1", None),
            // Teredo with client 127.0.0.1, stored inverted.
            ("2001:0:4136:e378:8000:63bf:80ff:fffe", Some(Loopback)),
            ("2001:db8::1", None),
            ("2606:4700:4700::1111", None),
        ];
        for (ip, expected) in cases {
            assert_eq!(kind(ip), expected, "{ip}");
        }
    }
}
