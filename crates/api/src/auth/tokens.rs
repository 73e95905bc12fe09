//! Access tokens (short-lived HS256 JWTs with every registered claim checked) and opaque
//! secrets (refresh tokens, stream tickets) that are stored only as SHA-256 hashes.

use std::time::Duration;

use base64::Engine;
use chrono::{DateTime, Utc};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation, errors::ErrorKind};
use rand::RngCore;
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use weft_core::{SessionId, UserId};

use crate::error::{InternalError, UnauthenticatedReason};

/// The only value of the `typ` claim an access token may carry.
const ACCESS_TOKEN_TYPE: &str = "access";

/// Settings for issuing and checking access tokens.
#[derive(Clone, Debug)]
pub struct TokenConfig {
    /// HMAC key; at least 32 bytes.
    pub secret: SecretString,
    /// `iss` claim.
    pub issuer: String,
    /// `aud` claim.
    pub audience: String,
    /// Lifetime of an access token.
    pub access_ttl: Duration,
    /// Clock skew tolerated on `exp` and `nbf`.
    pub leeway: Duration,
}

/// Claims of a Weft access token.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct AccessClaims {
    /// User id.
    pub sub: String,
    /// Session id.
    pub sid: String,
    /// Token type; always `access`.
    pub typ: String,
    /// Issuer.
    pub iss: String,
    /// Audience.
    pub aud: String,
    /// Expiry (seconds since the epoch).
    pub exp: i64,
    /// Not before.
    pub nbf: i64,
    /// Issued at.
    pub iat: i64,
    /// Unique token id.
    pub jti: String,
}

/// Issues and verifies access tokens.
#[derive(Clone)]
pub struct TokenService {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
    config: TokenConfig,
}

impl std::fmt::Debug for TokenService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenService").field("issuer", &self.config.issuer).finish_non_exhaustive()
    }
}

impl TokenService {
    /// Builds the service; refuses keys shorter than 32 bytes.
    pub fn new(config: TokenConfig) -> Result<Self, InternalError> {
        let key = config.secret.expose_secret().as_bytes();
        if key.len() < 32 {
            return Err(InternalError::message("jwt secret must be at least 32 bytes"));
        }
        let mut validation = Validation::new(Algorithm::HS256);
        validation.set_issuer(&[&config.issuer]);
        validation.set_audience(&[&config.audience]);
        validation.set_required_spec_claims(&["exp", "nbf", "iss", "aud", "sub"]);
        validation.validate_exp = true;
        validation.validate_nbf = true;
        validation.leeway = config.leeway.as_secs();
        Ok(Self {
            encoding: EncodingKey::from_secret(key),
            decoding: DecodingKey::from_secret(key),
            validation,
            config,
        })
    }

    /// Mints an access token for a session; returns it with its expiry.
    pub fn issue_access(
        &self,
        user_id: UserId,
        session_id: SessionId,
        now: DateTime<Utc>,
    ) -> Result<(String, DateTime<Utc>), InternalError> {
        let ttl = chrono::Duration::from_std(self.config.access_ttl)
            .map_err(|e| InternalError::new("access token lifetime out of range", e))?;
        let expires_at = now + ttl;
        let claims = AccessClaims {
            sub: user_id.to_string(),
            sid: session_id.to_string(),
            typ: ACCESS_TOKEN_TYPE.to_owned(),
            iss: self.config.issuer.clone(),
            aud: self.config.audience.clone(),
            exp: expires_at.timestamp(),
            nbf: now.timestamp(),
            iat: now.timestamp(),
            jti: uuid::Uuid::new_v4().to_string(),
        };
        let token = jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)
            .map_err(|e| InternalError::new("failed to sign access token", e))?;
        Ok((token, expires_at))
    }

    /// Verifies signature, algorithm, `exp`, `nbf`, `iss`, `aud` and `typ`; returns the
    /// user and session the token names.
    pub fn verify_access(&self, token: &str) -> Result<(UserId, SessionId), UnauthenticatedReason> {
        let data =
            jsonwebtoken::decode::<AccessClaims>(token, &self.decoding, &self.validation).map_err(|err| {
                match err.kind() {
                    ErrorKind::ExpiredSignature => UnauthenticatedReason::ExpiredToken,
                    _ => UnauthenticatedReason::InvalidToken,
                }
            })?;
        let claims = data.claims;
        if claims.typ != ACCESS_TOKEN_TYPE {
            return Err(UnauthenticatedReason::InvalidToken);
        }
        let user_id = claims.sub.parse().map_err(|_| UnauthenticatedReason::InvalidToken)?;
        let session_id = claims.sid.parse().map_err(|_| UnauthenticatedReason::InvalidToken)?;
        Ok((user_id, session_id))
    }
}

/// A new opaque secret: `prefix` followed by 256 random bits in URL-safe base64.
pub fn random_secret(prefix: &str) -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    format!("{prefix}{}", base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes))
}

/// The stored form of an opaque secret: lower-case hex SHA-256.
pub fn hash_secret(secret: &str) -> String {
    format!("{:x}", Sha256::digest(secret.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn service(secret: &str) -> TokenService {
        TokenService::new(TokenConfig {
            secret: SecretString::from(secret.to_owned()),
            issuer: "weft".into(),
            audience: "weft-api".into(),
            access_ttl: Duration::from_secs(900),
            leeway: Duration::from_secs(0),
        })
        .unwrap()
    }

    const SECRET: &str = "0123456789abcdef0123456789abcdef";

    #[test]
    fn issued_tokens_verify() {
        let tokens = service(SECRET);
        let (user, session) = (UserId::new(), SessionId::new());
        let (token, _) = tokens.issue_access(user, session, Utc::now()).unwrap();
        assert_eq!(tokens.verify_access(&token).unwrap(), (user, session));
    }

    #[test]
    fn short_keys_are_refused() {
        assert!(
            TokenService::new(TokenConfig {
                secret: SecretString::from("short".to_owned()),
                issuer: "weft".into(),
                audience: "weft-api".into(),
                access_ttl: Duration::from_secs(900),
                leeway: Duration::from_secs(0),
            })
            .is_err()
        );
    }

    fn sign(claims: &serde_json::Value, alg: Algorithm, key: &str) -> String {
        jsonwebtoken::encode(&Header::new(alg), claims, &EncodingKey::from_secret(key.as_bytes())).unwrap()
    }

    fn claims(now: i64) -> serde_json::Value {
        serde_json::json!({
            "sub": UserId::new().to_string(), "sid": SessionId::new().to_string(), "typ": "access",
            "iss": "weft", "aud": "weft-api", "exp": now + 600, "nbf": now, "iat": now, "jti": "x"
        })
    }

    #[test]
    fn every_claim_is_checked() {
        let tokens = service(SECRET);
        let now = Utc::now().timestamp();
        let ok = claims(now);
        assert!(tokens.verify_access(&sign(&ok, Algorithm::HS256, SECRET)).is_ok());

        let cases: Vec<(&str, serde_json::Value, UnauthenticatedReason)> = vec![
            ("expired", serde_json::json!({"exp": now - 10}), UnauthenticatedReason::ExpiredToken),
            ("not yet valid", serde_json::json!({"nbf": now + 300}), UnauthenticatedReason::InvalidToken),
            ("wrong issuer", serde_json::json!({"iss": "evil"}), UnauthenticatedReason::InvalidToken),
            ("wrong audience", serde_json::json!({"aud": "other"}), UnauthenticatedReason::InvalidToken),
            ("refresh typed", serde_json::json!({"typ": "refresh"}), UnauthenticatedReason::InvalidToken),
            ("stream typed", serde_json::json!({"typ": "stream"}), UnauthenticatedReason::InvalidToken),
        ];
        for (name, patch, expected) in cases {
            let mut c = ok.clone();
            for (k, v) in patch.as_object().unwrap() {
                c[k] = v.clone();
            }
            assert_eq!(tokens.verify_access(&sign(&c, Algorithm::HS256, SECRET)), Err(expected), "{name}");
        }
        for missing in ["exp", "nbf", "iss", "aud", "sub"] {
            let mut c = ok.clone();
            c.as_object_mut().unwrap().remove(missing);
            assert!(tokens.verify_access(&sign(&c, Algorithm::HS256, SECRET)).is_err(), "missing {missing}");
        }
    }

    #[test]
    fn tampered_wrong_key_wrong_alg_and_alg_none_are_refused() {
        let tokens = service(SECRET);
        let now = Utc::now().timestamp();
        let good = sign(&claims(now), Algorithm::HS256, SECRET);
        assert!(
            tokens
                .verify_access(&sign(&claims(now), Algorithm::HS256, "another-secret-another-secret-xx"))
                .is_err()
        );
        assert!(tokens.verify_access(&sign(&claims(now), Algorithm::HS512, SECRET)).is_err());

        let engine = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let parts: Vec<&str> = good.split('.').collect();
        // Payload swapped for another user's: signature no longer matches.
        let forged = engine.encode(serde_json::to_vec(&claims(now)).unwrap());
        assert!(tokens.verify_access(&format!("{}.{}.{}", parts[0], forged, parts[2])).is_err());
        // alg: none with an empty signature.
        let none_header = engine.encode(br#"{"alg":"none","typ":"JWT"}"#);
        assert!(tokens.verify_access(&format!("{none_header}.{}.", parts[1])).is_err());
        assert!(tokens.verify_access("not-a-jwt").is_err());
    }

    #[test]
    fn secrets_are_random_and_hashed() {
        let a = random_secret("wrt_");
        let b = random_secret("wrt_");
        assert_ne!(a, b);
        assert!(a.starts_with("wrt_") && a.len() > 40);
        assert_eq!(hash_secret(&a).len(), 64);
        assert_eq!(hash_secret(&a), hash_secret(&a));
    }
}
