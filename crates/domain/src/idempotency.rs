//! `Idempotency-Key`: what a client may send to make a retried write apply once.

use crate::error::ValidationErrors;

/// The longest key accepted.
pub const MAX_KEY_LEN: usize = 255;

/// A key is 1 to 255 visible ASCII characters.
pub fn check_key(key: &str) -> Result<(), ValidationErrors> {
    if key.is_empty() || key.len() > MAX_KEY_LEN || !key.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(ValidationErrors::single(
            "Idempotency-Key",
            format!("must be 1 to {MAX_KEY_LEN} visible ASCII characters"),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_short_visible_ascii() {
        assert!(check_key("retry-42").is_ok());
        for bad in ["", "has space", "é", &"k".repeat(256)] {
            assert!(check_key(bad).is_err(), "{bad}");
        }
    }
}
