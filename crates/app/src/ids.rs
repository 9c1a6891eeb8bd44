//! Identifiers the service makes: opaque, random, prefixed by kind.

use rand::RngCore;

use couponflow_core::code;

/// `prefix_` and 16 symbols of Crockford base32 (80 random bits), from the
/// thread's CSPRNG (as [`new_coupon_code`]): outbox events take one each.
pub fn new_id(prefix: &str) -> String {
    let mut bytes = [0u8; 16];
    rand::thread_rng().fill_bytes(&mut bytes);
    let mut random = u128::from_le_bytes(bytes);
    let mut text = String::with_capacity(prefix.len() + 17);
    text.push_str(prefix);
    text.push('_');
    for _ in 0..16 {
        text.push(char::from(code::ALPHABET[(random % 32) as usize]));
        random /= 32;
    }
    text
}

/// A new coupon code (SPEC §5.1) from a CSPRNG: the thread's ChaCha
/// generator, seeded (and reseeded) from the operating system's, which
/// saves a system call per coupon on the claim path.
pub fn new_coupon_code() -> String {
    let mut bytes = [0u8; 16];
    rand::thread_rng().fill_bytes(&mut bytes);
    // The default body length is always valid, and the empty prefix too.
    code::generate("", u128::from_le_bytes(bytes), code::BODY_LENGTH_DEFAULT).unwrap_or_default()
}
