//! Rules for account credentials: how e-mail addresses are normalised and which
//! passwords are acceptable.

use crate::validation::FieldError;

/// Shortest accepted password, in characters.
pub const PASSWORD_MIN_CHARS: usize = 8;
/// Longest accepted password, in characters. Passwords are hashed whole, never truncated.
pub const PASSWORD_MAX_CHARS: usize = 1024;
/// Longest accepted e-mail address (RFC 5321 path limit).
pub const EMAIL_MAX_CHARS: usize = 254;
/// zxcvbn only sees this many leading characters: the estimator is superlinear, and a
/// password this long is never on a common-password list.
const STRENGTH_PREFIX_CHARS: usize = 64;
/// Minimum zxcvbn score (0–4). Scores 0 and 1 are common passwords, dictionary words with
/// small changes, keyboard walks, dates and the like.
const MIN_STRENGTH_SCORE: u8 = 2;

/// Normalises an e-mail address for storage and lookup: surrounding white space removed,
/// lower-cased. Returns a field error at `path` when the address is not valid.
pub fn normalize_email(path: &str, raw: &str) -> Result<String, FieldError> {
    let email = raw.trim().to_lowercase();
    if email.is_empty() {
        return Err(FieldError::new(path, "required", "must not be empty"));
    }
    if email.chars().count() > EMAIL_MAX_CHARS {
        return Err(FieldError::new(
            path,
            "tooLong",
            format!("must be at most {EMAIL_MAX_CHARS} characters"),
        ));
    }
    let parsed_ok = email_address::EmailAddress::parse_with_options(
        &email,
        email_address::Options::default().without_display_text().without_domain_literal(),
    )
    .is_ok();
    // A bare host name ("root@localhost") is valid per RFC but never a reachable account.
    let has_dotted_domain =
        email.rsplit_once('@').is_some_and(|(_, domain)| domain.contains('.') && !domain.ends_with('.'));
    if !parsed_ok || !has_dotted_domain {
        return Err(FieldError::new(path, "invalidEmail", "must be a valid e-mail address"));
    }
    Ok(email)
}

/// Checks a new password against the policy: 8 to 1024 characters, and not a common or
/// easily guessed password (zxcvbn score of at least 2, taking the user's own e-mail and
/// name into account).
pub fn check_new_password(path: &str, password: &str, user_inputs: &[&str]) -> Result<(), FieldError> {
    let n_chars = password.chars().count();
    if n_chars < PASSWORD_MIN_CHARS {
        return Err(FieldError::new(
            path,
            "tooShort",
            format!("must be at least {PASSWORD_MIN_CHARS} characters"),
        ));
    }
    if n_chars > PASSWORD_MAX_CHARS {
        return Err(FieldError::new(
            path,
            "tooLong",
            format!("must be at most {PASSWORD_MAX_CHARS} characters"),
        ));
    }
    let prefix: String = password.chars().take(STRENGTH_PREFIX_CHARS).collect();
    let words = personal_words(user_inputs);
    let words: Vec<&str> = words.iter().map(String::as_str).collect();
    let estimate = zxcvbn::zxcvbn(&prefix, &words);
    if u8::from(estimate.score()) < MIN_STRENGTH_SCORE {
        let hint = estimate
            .feedback()
            .and_then(|feedback| feedback.warning())
            .map(|warning| format!(": {warning}"))
            .unwrap_or_default();
        return Err(FieldError::new(path, "tooCommon", format!("is too common or easy to guess{hint}")));
    }
    Ok(())
}

/// The words a password must not be built from: each input whole, its pieces (split on
/// anything not alphanumeric, so an e-mail's local part and a name's words count), and the
/// pieces run together ("Ada Lovelace" also gives "adalovelace").
fn personal_words(inputs: &[&str]) -> Vec<String> {
    let mut words = Vec::new();
    for input in inputs {
        let lower = input.to_lowercase();
        let local = lower.split('@').next().unwrap_or_default();
        let pieces: Vec<&str> =
            local.split(|c: char| !c.is_alphanumeric()).filter(|p| p.chars().count() >= 3).collect();
        words.push(lower.clone());
        words.extend(pieces.iter().map(|p| (*p).to_owned()));
        words.push(local.chars().filter(|c| c.is_alphanumeric()).collect());
    }
    words.retain(|w| w.chars().count() >= 3);
    words.sort();
    words.dedup();
    words
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_are_trimmed_and_lowercased() {
        assert_eq!(normalize_email("email", "  Ada@Example.COM ").unwrap(), "ada@example.com");
    }

    #[test]
    fn bad_emails_are_refused_with_the_field_path() {
        for bad in ["", "ada", "ada@", "@example.com", "ada@localhost", "a b@example.com", "ada@example.com."]
        {
            let err = normalize_email("email", bad).unwrap_err();
            assert_eq!(err.path, "email", "{bad}");
        }
        let long = format!("{}@example.com", "a".repeat(250));
        assert_eq!(normalize_email("email", &long).unwrap_err().code, "tooLong");
    }

    #[test]
    fn password_length_is_counted_in_characters() {
        assert_eq!(check_new_password("password", "short", &[]).unwrap_err().code, "tooShort");
        let too_long = "x".repeat(PASSWORD_MAX_CHARS + 1);
        assert_eq!(check_new_password("password", &too_long, &[]).unwrap_err().code, "tooLong");
        // 1024 multi-byte characters are allowed: the limit is not in bytes.
        let long_ok: String = "violet-Tangerine-88-harbour-"
            .chars()
            .chain(std::iter::repeat('ñ'))
            .take(PASSWORD_MAX_CHARS)
            .collect();
        assert!(check_new_password("password", &long_ok, &[]).is_ok());
    }

    #[test]
    fn common_passwords_are_refused() {
        for common in ["password", "password123", "qwertyuiop", "iloveyou1", "12345678"] {
            let err = check_new_password("password", common, &[]).unwrap_err();
            assert_eq!(err.code, "tooCommon", "{common}");
        }
    }

    #[test]
    fn passwords_built_from_the_users_own_details_are_refused() {
        let err = check_new_password("password", "adalovelace", &["adalovelace@example.com", "Ada Lovelace"]);
        assert_eq!(err.unwrap_err().code, "tooCommon");
    }

    #[test]
    fn strong_passwords_pass() {
        assert!(check_new_password("password", "violet-Tangerine-88-harbour", &[]).is_ok());
    }
}
