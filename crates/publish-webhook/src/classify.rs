//! Response → outcome.

use publish::{Delivered, PublishOutcome};

/// At most this much of an error body is kept in the reason.
const MAX_DETAIL: usize = 256;

/// Any 2xx is delivered; everything else is classified by status.
pub(crate) fn response(
    status: u16,
    headers: &reqwest::header::HeaderMap,
    body: &[u8],
) -> PublishOutcome {
    if (200..300).contains(&status) {
        return Ok(Delivered {
            status_code: Some(status),
            vendor_state: None,
        });
    }
    let text = String::from_utf8_lossy(body);
    let (detail, _) = publish::truncate::chars(text.trim(), MAX_DETAIL);
    Err(publish::classify::http_status(
        status,
        publish::classify::retry_after_header(headers),
        &detail,
    ))
}
