//! Secrets at rest: credentials are sealed with XChaCha20-Poly1305 under a key derived from
//! `WEFT_SECRET_KEY` (HKDF-SHA256), with a random 192-bit nonce per seal and the record's
//! identity as associated data, so a sealed value copied onto another record does not open.
//! Sealed text is `v1.` followed by base64 of nonce and ciphertext; the version prefix lets a
//! later scheme or key rotation tell old values apart.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD_NO_PAD;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use rand::RngCore;
use secrecy::{ExposeSecret, SecretString};

/// Shortest accepted `WEFT_SECRET_KEY`, in bytes.
pub const MIN_SECRET_KEY_BYTES: usize = 32;
const PREFIX: &str = "v1.";
const NONCE_BYTES: usize = 24;
const HKDF_INFO: &[u8] = b"weft credentials v1";

/// Why a secret could not be sealed or opened. Never carries the secret.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SecretError {
    /// The configured key is too short.
    #[error("the secret key must be at least {MIN_SECRET_KEY_BYTES} bytes")]
    WeakKey,
    /// The sealed value is damaged, was sealed under another key, or belongs to another record.
    #[error("the sealed secret cannot be opened (wrong key, other record, or damaged)")]
    Unsealable,
}

/// Seals and opens secrets with the instance key. Cheap to clone; never printed.
#[derive(Clone)]
pub struct SecretCipher {
    aead: XChaCha20Poly1305,
}

impl std::fmt::Debug for SecretCipher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretCipher([redacted])")
    }
}

impl SecretCipher {
    /// A cipher keyed by `secret` (at least [`MIN_SECRET_KEY_BYTES`] bytes).
    pub fn new(secret: &SecretString) -> Result<Self, SecretError> {
        let material = secret.expose_secret().as_bytes();
        if material.len() < MIN_SECRET_KEY_BYTES {
            return Err(SecretError::WeakKey);
        }
        let mut key = [0u8; 32];
        hkdf::Hkdf::<sha2::Sha256>::new(None, material)
            .expand(HKDF_INFO, &mut key)
            .map_err(|_| SecretError::WeakKey)?;
        let aead = XChaCha20Poly1305::new(&key.into());
        key.fill(0);
        Ok(Self { aead })
    }

    /// Seals `plaintext` for the record named by `context` (e.g. the credential and project ids).
    pub fn seal(&self, plaintext: &str, context: &[u8]) -> String {
        let mut nonce = [0u8; NONCE_BYTES];
        rand::rng().fill_bytes(&mut nonce);
        let payload = Payload { msg: plaintext.as_bytes(), aad: context };
        // Encryption with a valid key and nonce cannot fail (only lengths beyond 2^38 bytes).
        let ciphertext = self.aead.encrypt(&XNonce::from(nonce), payload).unwrap_or_default();
        let mut sealed = Vec::with_capacity(NONCE_BYTES + ciphertext.len());
        sealed.extend_from_slice(&nonce);
        sealed.extend_from_slice(&ciphertext);
        format!("{PREFIX}{}", STANDARD_NO_PAD.encode(sealed))
    }

    /// Opens a value sealed by [`SecretCipher::seal`] for the same `context`.
    pub fn open(&self, sealed: &str, context: &[u8]) -> Result<SecretString, SecretError> {
        let encoded = sealed.strip_prefix(PREFIX).ok_or(SecretError::Unsealable)?;
        let bytes = STANDARD_NO_PAD.decode(encoded).map_err(|_| SecretError::Unsealable)?;
        if bytes.len() < NONCE_BYTES + 16 {
            return Err(SecretError::Unsealable);
        }
        let (nonce, ciphertext) = bytes.split_at(NONCE_BYTES);
        let nonce: [u8; NONCE_BYTES] = nonce.try_into().map_err(|_| SecretError::Unsealable)?;
        let payload = Payload { msg: ciphertext, aad: context };
        let plain = self.aead.decrypt(&XNonce::from(nonce), payload).map_err(|_| SecretError::Unsealable)?;
        let text = String::from_utf8(plain).map_err(|_| SecretError::Unsealable)?;
        Ok(SecretString::from(text))
    }
}

/// What may be shown of a secret: its last four characters when it is long enough that they
/// give nothing away (at least 12), else nothing.
pub fn hint(secret: &str) -> String {
    let chars: Vec<char> = secret.chars().collect();
    if chars.len() >= 12 {
        format!("…{}", chars[chars.len() - 4..].iter().collect::<String>())
    } else {
        "…".to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cipher(key: &str) -> SecretCipher {
        SecretCipher::new(&SecretString::from(key.to_owned())).unwrap()
    }

    #[test]
    fn sealed_values_open_only_with_the_same_key_and_context() {
        let c = cipher("0123456789abcdef0123456789abcdef");
        let sealed = c.seal("sk-live-123456789", b"cred-1");
        assert!(sealed.starts_with("v1.") && !sealed.contains("sk-live"));
        assert_eq!(c.open(&sealed, b"cred-1").unwrap().expose_secret(), "sk-live-123456789");
        assert_eq!(c.open(&sealed, b"cred-2").unwrap_err(), SecretError::Unsealable);
        let other = cipher("fedcba9876543210fedcba9876543210");
        assert_eq!(other.open(&sealed, b"cred-1").unwrap_err(), SecretError::Unsealable);
        let mut damaged = sealed.clone();
        damaged.pop();
        assert!(c.open(&damaged, b"cred-1").is_err());
        assert_ne!(c.seal("same", b"x"), c.seal("same", b"x"), "nonces are random");
    }

    #[test]
    fn short_keys_are_refused_and_hints_reveal_little() {
        assert_eq!(
            SecretCipher::new(&SecretString::from("short".to_owned())).unwrap_err(),
            SecretError::WeakKey
        );
        assert_eq!(hint("sk-or-v1-abcdefgh1234"), "…1234");
        assert_eq!(hint("tiny-secret"), "…");
        assert!(!format!("{:?}", cipher("0123456789abcdef0123456789abcdef")).contains("0123"));
    }
}
