//! Password hashing with Argon2id at OWASP's recommended parameters (19 MiB, 2 passes,
//! 1 lane). Hashing runs on the blocking pool so it never stalls request handling.

use argon2::password_hash::phc::PasswordHash;
use argon2::{Algorithm, Argon2, Params, PasswordHasher as _, PasswordVerifier as _, Version};

use crate::error::InternalError;

/// Hashes and verifies passwords.
#[derive(Clone, Debug)]
pub struct PasswordHasher {
    params: Params,
    /// A hash of a random password, verified against when the account does not exist so
    /// that unknown accounts take as long as wrong passwords.
    dummy_hash: String,
}

impl PasswordHasher {
    /// OWASP's Argon2id recommendation: m=19456 KiB, t=2, p=1.
    pub fn owasp() -> Result<Self, InternalError> {
        let params = Params::new(19 * 1024, 2, 1, None)
            .map_err(|e| InternalError::new("invalid argon2 parameters", e))?;
        Self::with_params(params)
    }

    fn with_params(params: Params) -> Result<Self, InternalError> {
        let dummy = crate::auth::random_secret("");
        let dummy_hash = hash_with(&params, &dummy)?;
        Ok(Self { params, dummy_hash })
    }

    /// Hashes a password into a PHC string (salt and parameters included).
    pub async fn hash(&self, password: String) -> Result<String, InternalError> {
        let params = self.params.clone();
        tokio::task::spawn_blocking(move || hash_with(&params, &password))
            .await
            .map_err(|e| InternalError::new("password hashing task failed", e))?
    }

    /// Whether `password` matches the PHC string `hash`. A malformed stored hash never
    /// matches. With `hash = None` it spends the same time and answers false.
    pub async fn verify(&self, password: String, hash: Option<String>) -> Result<bool, InternalError> {
        let (hash, is_real) = match hash {
            Some(hash) => (hash, true),
            None => (self.dummy_hash.clone(), false),
        };
        let matched = tokio::task::spawn_blocking(move || {
            let Ok(parsed) = PasswordHash::new(&hash) else {
                return false;
            };
            Argon2::default().verify_password(password.as_bytes(), &parsed).is_ok()
        })
        .await
        .map_err(|e| InternalError::new("password verification task failed", e))?;
        Ok(matched && is_real)
    }
}

fn hash_with(params: &Params, password: &str) -> Result<String, InternalError> {
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params.clone())
        .hash_password(password.as_bytes())
        .map(|hash| hash.to_string())
        .map_err(|e| InternalError::new("failed to hash password", e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn hashes_verify_and_use_argon2id_with_owasp_parameters() {
        let hasher = PasswordHasher::owasp().unwrap();
        let long: String = "é".repeat(1024);
        let hash = hasher.hash(long.clone()).await.unwrap();
        assert!(hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{hash}");
        assert!(hasher.verify(long.clone(), Some(hash.clone())).await.unwrap());
        // No truncation: changing the last character of a 1024-character password matters.
        let mut altered = long.clone();
        altered.pop();
        altered.push('e');
        assert!(!hasher.verify(altered, Some(hash.clone())).await.unwrap());
        assert!(!hasher.verify("wrong".into(), Some(hash)).await.unwrap());
    }

    #[tokio::test]
    async fn unknown_accounts_and_corrupt_hashes_never_match() {
        let hasher = PasswordHasher::owasp().unwrap();
        assert!(!hasher.verify("anything".into(), None).await.unwrap());
        assert!(!hasher.verify("anything".into(), Some("not-a-phc".into())).await.unwrap());
    }
}
