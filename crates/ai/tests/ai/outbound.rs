//! Outbound addresses: the injected URL guard and DNS resolver, and no redirects.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex};

use weft_ai::dns::{Addrs, Name, Resolve, Resolving};
use weft_ai::testing::Reply;
use weft_ai::{AiError, ModelChoice, NoBudget, TaskClass, Url, UrlGuard};

use crate::helpers::{KEY, ask, model, on, setup, setup_with};

/// Refuses loopback IP literals, as the engine's policy does; names pass (the resolver
/// checks their addresses).
fn no_loopback_literals() -> Arc<dyn UrlGuard> {
    Arc::new(|url: &Url| match url.host_str().and_then(|host| host.parse::<IpAddr>().ok()) {
        Some(ip) if ip.is_loopback() => Err(format!("loopback address {ip} refused")),
        _ => Ok(()),
    })
}

/// Resolves `provider.test` to 127.0.0.1 and nothing else, recording the names asked.
#[derive(Clone, Default)]
struct MapResolver {
    asked: Arc<Mutex<Vec<String>>>,
    refuse_loopback: bool,
}

impl Resolve for MapResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let host = name.as_str().to_owned();
        self.asked.lock().unwrap().push(host.clone());
        let refuse = self.refuse_loopback;
        Box::pin(async move {
            if host != "provider.test" {
                return Err(format!("unknown host {host}").into());
            }
            if refuse {
                return Err("resolved to a loopback address: refused".into());
            }
            let addrs: Addrs = Box::new(std::iter::once(SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 0)));
            Ok(addrs)
        })
    }
}

#[tokio::test]
async fn a_refused_base_url_fails_with_a_typed_error_and_sends_nothing() {
    let setup = setup_with(vec![model("m", 1.0, 1.0, &[TaskClass::Generate])], |config| {
        config.url_guard = Some(no_loopback_literals());
    })
    .await;
    let error = setup.client.chat(ask(ModelChoice::model("m")), &NoBudget).await.unwrap_err();
    let AiError::UrlRefused { provider, reason } = &error else { panic!("{error:?}") };
    assert_eq!(provider, "local");
    assert_eq!(reason, "loopback address 127.0.0.1 refused");
    assert_eq!(error.kind(), "urlRefused");
    assert!(error.attempts().is_empty());
    let error = setup.client.refresh_catalogue("local").await.unwrap_err();
    assert_eq!(error.kind(), "urlRefused");
    assert!(setup.provider.requests().is_empty(), "{:?}", setup.provider.requests());
}

#[tokio::test]
async fn a_refusal_names_no_secret_of_the_url_or_the_key() {
    let password = "pw-9f8e7d6c5b";
    let setup = setup_with(vec![model("m", 1.0, 1.0, &[TaskClass::Generate])], |config| {
        let base = &mut config.providers[0].base_url;
        *base = base.replace("http://", &format!("http://user:{password}@")) + "?token=tk-1a2b3c4d5e";
        // A careless guard that quotes the whole URL and the key.
        config.url_guard = Some(Arc::new(|url: &Url| {
            Err(format!("{url} refused (key {KEY}, password {:?})", url.password()))
        }));
    })
    .await;
    let error = setup.client.chat(ask(ModelChoice::model("m")), &NoBudget).await.unwrap_err();
    assert_eq!(error.kind(), "urlRefused");
    for shown in [error.to_string(), format!("{error:?}"), format!("{:?}", setup.client)] {
        for secret in [password, "tk-1a2b3c4d5e", KEY] {
            assert!(!shown.contains(secret), "{secret} leaked: {shown}");
        }
    }
    assert!(error.to_string().contains("127.0.0.1"), "{error}");
    assert!(setup.provider.requests().is_empty());
}

#[tokio::test]
async fn a_refused_provider_is_skipped_for_a_permitted_one() {
    let setup = setup_with(
        vec![
            on("local", "m", 1.0, 1.0, &[TaskClass::Generate]),
            on("named", "m", 2.0, 2.0, &[TaskClass::Generate]),
        ],
        |config| {
            let mut named = config.providers[0].clone();
            named.id = "named".to_owned();
            named.base_url = named.base_url.replace("127.0.0.1", "provider.test");
            config.providers.push(named);
            config.url_guard = Some(no_loopback_literals());
            config.resolver = Some(Arc::new(MapResolver::default()));
        },
    )
    .await;
    let outcome = setup.client.chat(ask(ModelChoice::model("m")), &NoBudget).await.unwrap();
    assert_eq!(outcome.provider, "named");
    assert_eq!(outcome.attempts.len(), 1);
    assert_eq!(setup.provider.chat_requests().len(), 1);
}

#[tokio::test]
async fn connections_use_the_injected_resolver() {
    let resolver = MapResolver::default();
    let setup = setup_with(vec![model("m", 1.0, 1.0, &[TaskClass::Generate])], |config| {
        config.providers[0].base_url = config.providers[0].base_url.replace("127.0.0.1", "provider.test");
        config.resolver = Some(Arc::new(resolver.clone()));
    })
    .await;
    let outcome = setup.client.chat(ask(ModelChoice::model("m")), &NoBudget).await.unwrap();
    assert_eq!(outcome.text, "ok");
    assert_eq!(*resolver.asked.lock().unwrap(), ["provider.test"]);
    assert_eq!(
        setup.provider.chat_requests()[0].header("host").map(|host| host.starts_with("provider.test:")),
        Some(true)
    );

    // A resolver that refuses the address stops the connection: nothing reaches the server.
    let refusing = MapResolver { refuse_loopback: true, ..MapResolver::default() };
    let setup = setup_with(vec![model("m", 1.0, 1.0, &[TaskClass::Generate])], |config| {
        config.providers[0].base_url = config.providers[0].base_url.replace("127.0.0.1", "provider.test");
        config.resolver = Some(Arc::new(refusing.clone()));
    })
    .await;
    let error = setup.client.chat(ask(ModelChoice::model("m")), &NoBudget).await.unwrap_err();
    assert_eq!(error.attempts()[0].outcome.as_str(), "network");
    assert!(!refusing.asked.lock().unwrap().is_empty());
    assert!(setup.provider.requests().is_empty());
}

#[tokio::test]
async fn redirects_are_not_followed() {
    let setup = setup(vec![model("m", 1.0, 1.0, &[TaskClass::Generate])]).await;
    let elsewhere = format!("{}/models", setup.provider.base_url());
    setup.provider.enqueue(Reply::status(307, "moved").header("location", &elsewhere));
    let error = setup.client.chat(ask(ModelChoice::model("m")), &NoBudget).await.unwrap_err();
    assert_eq!(error.kind(), "allProvidersFailed");
    let attempt = &error.attempts()[0];
    assert_eq!(attempt.outcome.as_str(), "clientError");
    assert_eq!(attempt.detail.as_deref(), Some("http 307: redirect not followed"));
    assert_eq!(setup.provider.requests().len(), 1);
}
