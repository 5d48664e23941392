//! Password strength by zxcvbn, which estimates guesses from dictionaries, keyboard patterns,
//! dates, repeats and the user's own details, so that common and breached-style passwords fail
//! without composition rules.

use flashforge_domain::accounts::PasswordStrength;

/// Accepts passwords zxcvbn scores at `min_score` (0–4) or above.
#[derive(Debug, Clone, Copy)]
pub struct ZxcvbnStrength {
    min_score: u8,
}

impl ZxcvbnStrength {
    pub fn new(min_score: u8) -> Self {
        Self {
            min_score: min_score.min(4),
        }
    }
}

impl Default for ZxcvbnStrength {
    fn default() -> Self {
        Self::new(3)
    }
}

impl PasswordStrength for ZxcvbnStrength {
    fn assess(&self, password: &str, context: &[&str]) -> Result<(), String> {
        let estimate = zxcvbn::zxcvbn(password, context);
        if u8::from(estimate.score()) >= self.min_score {
            return Ok(());
        }
        let mut sentences: Vec<String> = Vec::new();
        if let Some(feedback) = estimate.feedback() {
            if let Some(warning) = feedback.warning() {
                sentences.push(warning.to_string());
            }
            sentences.extend(feedback.suggestions().iter().map(ToString::to_string));
        }
        sentences.push("A few unrelated words make a strong passphrase.".to_string());
        let advice = format!(
            "is too easy to guess: {}",
            sentences
                .iter()
                .map(|s| s.trim().trim_end_matches('.').to_string() + ".")
                .collect::<Vec<_>>()
                .join(" ")
        );
        Err(advice)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn common_and_personal_passwords_fail_with_advice() {
        let strength = ZxcvbnStrength::default();
        for weak in ["password1234", "qwertyuiop12", "aaaaaaaaaaaa"] {
            let advice = strength.assess(weak, &[]).unwrap_err();
            assert!(
                advice.starts_with("is too easy to guess"),
                "{weak}: {advice}"
            );
        }
        assert!(strength.assess("ada.lovelace1", &["ada.lovelace"]).is_err());
    }

    #[test]
    fn a_passphrase_of_unrelated_words_passes() {
        let strength = ZxcvbnStrength::default();
        assert!(
            strength
                .assess("correct horse battery staple", &["ada"])
                .is_ok()
        );
        assert!(strength.assess("violet-tractor-91-lagoon", &[]).is_ok());
    }
}
