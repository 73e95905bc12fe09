//! Cost arithmetic in integer micro-USD, and token estimates for when a provider reports no
//! usage.
//!
//! A price of `p` USD per million tokens makes `n` tokens cost `p × n` micro-USD exactly
//! (`p / 10⁶` USD per token × `n` tokens × `10⁶` micro-USD per USD). Prices are first turned
//! into integer micro-USD per million tokens (rounded half up, so any price with up to six
//! decimals per million tokens is exact), then the whole call is computed in `u128` integers
//! and rounded half up once.

use crate::request::ChatMessage;

/// A model's prices, in USD per million tokens.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ModelPrices {
    /// Price of prompt (input) tokens.
    pub input_per_mtok_usd: f64,
    /// Price of completion (output) tokens.
    pub output_per_mtok_usd: f64,
}

const MICRO_PER_UNIT: u128 = 1_000_000;

/// A price in USD per million tokens as integer micro-USD per million tokens, rounded half up.
/// Negative, NaN and infinite prices count as 0 (the catalogue refuses them anyway).
pub fn micro_usd_per_mtok(price_per_mtok_usd: f64) -> u64 {
    if !price_per_mtok_usd.is_finite() || price_per_mtok_usd <= 0.0 {
        return 0;
    }
    // `round` is half away from zero, i.e. half up for positive amounts; `as` saturates.
    (price_per_mtok_usd * 1e6).round() as u64
}

/// The cost of a call in micro-USD: `input price × prompt tokens + output price × completion
/// tokens`, computed exactly in integers and rounded half up once (saturating at `u64::MAX`).
pub fn cost_micro_usd(prices: ModelPrices, prompt_tokens: u64, completion_tokens: u64) -> u64 {
    let input = u128::from(micro_usd_per_mtok(prices.input_per_mtok_usd)) * u128::from(prompt_tokens);
    let output = u128::from(micro_usd_per_mtok(prices.output_per_mtok_usd)) * u128::from(completion_tokens);
    // (micro-USD per Mtok) × tokens is micro-USD × 10⁶: divide once, rounding half up.
    let micro = (input + output + MICRO_PER_UNIT / 2) / MICRO_PER_UNIT;
    u64::try_from(micro).unwrap_or(u64::MAX)
}

/// Estimated tokens of a text, when the provider reports no usage: one token per four ASCII
/// characters (rounded up; the usual rule of thumb for English and code with BPE tokenisers)
/// plus one token per non-ASCII character (CJK and other scripts take about one token per
/// character, often more). Deliberately on the high side: estimates feed budget checks.
pub fn estimate_tokens(text: &str) -> u64 {
    let (ascii, other) = text.chars().fold((0_u64, 0_u64), |(ascii, other), ch| {
        if ch.is_ascii() { (ascii + 1, other) } else { (ascii, other + 1) }
    });
    ascii.div_ceil(4) + other
}

/// Tokens every message adds for its role and separators in the chat format.
const TOKENS_PER_MESSAGE: u64 = 4;
/// Tokens that prime the assistant's reply.
const TOKENS_PER_REPLY: u64 = 3;

/// Estimated prompt tokens of a conversation: each message's content, plus the chat format's
/// few tokens per message.
pub fn estimate_prompt_tokens(messages: &[ChatMessage]) -> u64 {
    messages.iter().map(|message| estimate_tokens(&message.content) + TOKENS_PER_MESSAGE).sum::<u64>()
        + TOKENS_PER_REPLY
}

#[cfg(test)]
mod tests {
    use super::*;

    fn prices(input: f64, output: f64) -> ModelPrices {
        ModelPrices { input_per_mtok_usd: input, output_per_mtok_usd: output }
    }

    #[test]
    fn price_times_tokens_is_micro_usd() {
        // $2.50 per Mtok × 1,000 tokens = $0.0025 = 2,500 micro-USD.
        assert_eq!(cost_micro_usd(prices(2.5, 10.0), 1_000, 0), 2_500);
        assert_eq!(cost_micro_usd(prices(2.5, 10.0), 1_000, 500), 7_500);
        // $75 per Mtok × 1,000,000 tokens = $75.
        assert_eq!(cost_micro_usd(prices(15.0, 75.0), 0, 1_000_000), 75_000_000);
        assert_eq!(cost_micro_usd(prices(0.0, 0.0), 123_456, 654_321), 0);
    }

    #[test]
    fn rounds_half_up_once_over_the_whole_call() {
        // 0.15 × 7 = 1.05 → 1.
        assert_eq!(cost_micro_usd(prices(0.15, 0.0), 7, 0), 1);
        // 0.5 × 1 = 0.5 → 1 (half up), 0.4999... does not exist at six decimals.
        assert_eq!(cost_micro_usd(prices(0.5, 0.0), 1, 0), 1);
        assert_eq!(cost_micro_usd(prices(0.499_999, 0.0), 1, 0), 0);
        // 0.15 × 10 + 0.6 × 5 = 1.5 + 3 = 4.5 → 5: rounding each part would give 2 + 3.
        assert_eq!(cost_micro_usd(prices(0.15, 0.6), 10, 5), 5);
        // 0.0375 × 3 = 0.1125 → 0.
        assert_eq!(cost_micro_usd(prices(0.0375, 0.0), 3, 0), 0);
    }

    #[test]
    fn prices_become_exact_integers() {
        assert_eq!(micro_usd_per_mtok(0.15), 150_000);
        assert_eq!(micro_usd_per_mtok(0.0375), 37_500);
        // 0.1 + 0.2 is not 0.3 in binary floating point; the integer price is.
        assert_eq!(micro_usd_per_mtok(0.1 + 0.2), 300_000);
        assert_eq!(micro_usd_per_mtok(0.000_000_4), 0);
        assert_eq!(micro_usd_per_mtok(0.000_000_5), 1);
        assert_eq!(micro_usd_per_mtok(-1.0), 0);
        assert_eq!(micro_usd_per_mtok(f64::NAN), 0);
    }

    #[test]
    fn saturates_instead_of_overflowing() {
        assert_eq!(cost_micro_usd(prices(1e12, 1e12), u64::MAX, u64::MAX), u64::MAX);
    }

    #[test]
    fn estimates_tokens_from_characters() {
        assert_eq!(estimate_tokens(""), 0);
        assert_eq!(estimate_tokens("abcd"), 1);
        assert_eq!(estimate_tokens("abcde"), 2);
        assert_eq!(estimate_tokens("日本語"), 3);
        assert_eq!(estimate_prompt_tokens(&[ChatMessage::user("abcd")]), 1 + 4 + 3);
    }
}
