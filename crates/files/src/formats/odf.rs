//! Being written.

use flashforge_domain::knowledge::{ExtractError, Extracted, ExtractionLimits};

pub fn extract(_bytes: &[u8], _limits: &ExtractionLimits) -> Result<Extracted, ExtractError> {
    Err(ExtractError::Malformed(
        "this format is not read yet".into(),
    ))
}

pub fn extract_presentation(
    _bytes: &[u8],
    _limits: &ExtractionLimits,
) -> Result<Extracted, ExtractError> {
    Err(ExtractError::Malformed(
        "this format is not read yet".into(),
    ))
}
