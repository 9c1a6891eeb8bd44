//! Coupon codes (券码, SPEC §5.1): Crockford base32 (no I, L, O, U), a
//! final check character, optionally behind a template prefix.
//!
//! A code's body is `length - 1` random symbols and one check symbol
//! computed by the Luhn mod N algorithm over the 32 symbols, which catches
//! every single mistyped symbol and most swaps of neighbours — so a typo is
//! refused without touching storage. The default body of 12 symbols carries
//! 55 random bits; bodies are 12..=16 symbols, so never fewer than 55.
//! Randomness comes from the caller (a CSPRNG in the service): the engine
//! stays pure.

/// The 32 symbols, in value order.
pub const ALPHABET: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";
pub const BODY_LENGTH_DEFAULT: usize = 12;
pub const BODY_LENGTH_MIN: usize = 12;
pub const BODY_LENGTH_MAX: usize = 16;
pub const PREFIX_LENGTH_MAX: usize = 8;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CodeError {
    #[error("a code has {BODY_LENGTH_MIN} to {BODY_LENGTH_MAX} symbols after its prefix")]
    Length,
    #[error("a code uses only 0-9 and A-Z without I, L, O and U")]
    Symbol,
    #[error("the code's check symbol does not match: it was mistyped")]
    Check,
    #[error("a prefix is 1 to {PREFIX_LENGTH_MAX} symbols of the code alphabet")]
    Prefix,
}

fn value_of(symbol: u8) -> Option<u32> {
    ALPHABET.iter().position(|s| *s == symbol).map(|v| v as u32)
}

/// The Luhn mod 32 check symbol for `body` (symbols already valid).
fn check_symbol(body: &[u8]) -> u8 {
    let mut sum = 0u32;
    let mut factor = 2u32;
    for symbol in body.iter().rev() {
        let value = value_of(*symbol).unwrap_or(0);
        let addend = factor * value;
        sum += addend / 32 + addend % 32;
        factor = if factor == 2 { 1 } else { 2 };
    }
    let check = (32 - sum % 32) % 32;
    ALPHABET[check as usize]
}

/// A new code from `random` bits: `body_length - 1` symbols taken five bits
/// at a time, then the check symbol, behind `prefix`.
pub fn generate(prefix: &str, random: u128, body_length: usize) -> Result<String, CodeError> {
    if !(BODY_LENGTH_MIN..=BODY_LENGTH_MAX).contains(&body_length) {
        return Err(CodeError::Length);
    }
    check_prefix(prefix)?;
    let mut body = Vec::with_capacity(body_length);
    let mut bits = random;
    for _ in 0..body_length - 1 {
        body.push(ALPHABET[(bits % 32) as usize]);
        bits /= 32;
    }
    body.push(check_symbol(&body));
    let body = String::from_utf8(body).map_err(|_| CodeError::Symbol)?;
    Ok(format!("{prefix}{body}"))
}

fn check_prefix(prefix: &str) -> Result<(), CodeError> {
    if prefix.len() > PREFIX_LENGTH_MAX || !prefix.bytes().all(|b| value_of(b).is_some()) {
        return Err(CodeError::Prefix);
    }
    Ok(())
}

/// What a person typed, made canonical: upper case, spaces and hyphens
/// dropped, and the look-alikes read as Crockford does (O→0, I/L→1).
pub fn normalise(typed: &str) -> String {
    typed
        .chars()
        .filter(|c| !matches!(c, ' ' | '-'))
        .map(|c| match c.to_ascii_uppercase() {
            'O' => '0',
            'I' | 'L' => '1',
            other => other,
        })
        .collect()
}

/// Checks a canonical code whose prefix is `prefix_length` symbols long.
pub fn verify(code: &str, prefix_length: usize) -> Result<(), CodeError> {
    let bytes = code.as_bytes();
    if bytes.len() < prefix_length {
        return Err(CodeError::Length);
    }
    let body = &bytes[prefix_length..];
    if !(BODY_LENGTH_MIN..=BODY_LENGTH_MAX).contains(&body.len()) {
        return Err(CodeError::Length);
    }
    if !bytes.iter().all(|b| value_of(*b).is_some()) {
        return Err(CodeError::Symbol);
    }
    let (payload, check) = body.split_at(body.len() - 1);
    if check_symbol(payload) != check[0] {
        return Err(CodeError::Check);
    }
    Ok(())
}

/// Checks a canonical code of unknown prefix length: any split that checks
/// is accepted (the stored code is the final word).
pub fn plausible(code: &str) -> Result<(), CodeError> {
    let mut last = CodeError::Length;
    for prefix_length in 0..=PREFIX_LENGTH_MAX.min(code.len()) {
        match verify(code, prefix_length) {
            Ok(()) => return Ok(()),
            Err(error) => last = error,
        }
    }
    Err(last)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn a_default_code_is_twelve_symbols_of_the_alphabet_and_checks() {
        let code = generate("", 0x1234_5678_9abc_def0, BODY_LENGTH_DEFAULT).unwrap();
        assert_eq!(code.len(), 12);
        assert!(code.bytes().all(|b| ALPHABET.contains(&b)));
        assert_eq!(verify(&code, 0), Ok(()));
        let prefixed = generate("CF", 42, 12).unwrap();
        assert!(prefixed.starts_with("CF"));
        assert_eq!(verify(&prefixed, 2), Ok(()));
        assert_eq!(plausible(&prefixed), Ok(()));
    }

    #[test]
    fn typed_codes_are_normalised_like_crockford() {
        assert_eq!(normalise("ab-cd o1 il"), "ABCD0111");
    }

    #[test]
    fn bad_lengths_prefixes_and_symbols_are_refused() {
        assert_eq!(generate("", 1, 11), Err(CodeError::Length));
        assert_eq!(generate("", 1, 17), Err(CodeError::Length));
        assert_eq!(generate("U", 1, 12), Err(CodeError::Prefix));
        assert_eq!(verify("UUUUUUUUUUUU", 0), Err(CodeError::Symbol));
    }

    proptest! {
        #[test]
        fn every_single_mistyped_symbol_is_caught(random in any::<u128>(), position in 0usize..12, delta in 1usize..32) {
            let code = generate("", random, 12).unwrap();
            let mut bytes = code.into_bytes();
            let value = value_of(bytes[position]).unwrap() as usize;
            bytes[position] = ALPHABET[(value + delta) % 32];
            let typo = String::from_utf8(bytes).unwrap();
            prop_assert_eq!(verify(&typo, 0), Err(CodeError::Check));
        }

        #[test]
        fn generated_codes_always_verify(random in any::<u128>(), length in 12usize..=16) {
            let code = generate("AB", random, length).unwrap();
            prop_assert_eq!(verify(&code, 2), Ok(()));
        }
    }
}
