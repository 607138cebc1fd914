//! Arbitrary bytes in JSON without loss. Every byte field `x` of the API has two spellings: `x` holds
//! UTF-8 text, `x_b64` holds standard base64 (RFC 4648, with padding). A request gives at most one of
//! them. A response gives `x` when the bytes are valid UTF-8 and `x_b64` otherwise (or always `x_b64`
//! when the client asked for `encoding=base64`), so a client looks for whichever is present.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use std::borrow::Cow;

/// Why a byte field of a request could not be read.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum BytesFieldError {
    #[error("give either `{0}` or `{0}_b64`, not both")]
    Both(&'static str),
    #[error("`{0}_b64` is not valid base64")]
    BadBase64(&'static str),
}

/// Reads a byte field given as text or as base64. `Ok(None)` when neither spelling is present.
pub fn decode<'a>(
    name: &'static str,
    text: Option<&'a str>,
    base64: Option<&str>,
) -> Result<Option<Cow<'a, [u8]>>, BytesFieldError> {
    match (text, base64) {
        (Some(_), Some(_)) => Err(BytesFieldError::Both(name)),
        (Some(text), None) => Ok(Some(Cow::Borrowed(text.as_bytes()))),
        (None, Some(encoded)) => STANDARD
            .decode(encoded)
            .map(|bytes| Some(Cow::Owned(bytes)))
            .map_err(|_| BytesFieldError::BadBase64(name)),
        (None, None) => Ok(None),
    }
}

/// Spells `bytes` for a response: `(Some(text), None)` for UTF-8 unless `force_base64`, else
/// `(None, Some(base64))`.
pub fn encode(bytes: &[u8], force_base64: bool) -> (Option<String>, Option<String>) {
    if !force_base64 {
        if let Ok(text) = std::str::from_utf8(bytes) {
            return (Some(text.to_owned()), None);
        }
    }
    (None, Some(STANDARD.encode(bytes)))
}

/// The bytes a response field pair stands for (the client side of [`encode`]).
pub fn bytes_of(text: Option<&str>, base64: Option<&str>) -> Option<Vec<u8>> {
    match (text, base64) {
        (Some(text), _) => Some(text.as_bytes().to_vec()),
        (None, Some(encoded)) => STANDARD.decode(encoded).ok(),
        (None, None) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_and_base64_round_trip_any_bytes() {
        for bytes in [&b"hello"[..], &[0xff, 0x00, 0xfe][..], &[][..]] {
            let (text, b64) = encode(bytes, false);
            assert_eq!(bytes_of(text.as_deref(), b64.as_deref()).unwrap(), bytes);
            let decoded = decode("value", text.as_deref(), b64.as_deref())
                .unwrap()
                .unwrap();
            assert_eq!(&*decoded, bytes);
        }
    }

    #[test]
    fn invalid_utf8_is_sent_as_base64() {
        let (text, b64) = encode(&[0xc3, 0x28], false);
        assert_eq!(text, None);
        assert_eq!(b64.as_deref(), Some("wyg="));
    }

    #[test]
    fn both_spellings_or_bad_base64_are_refused() {
        assert_eq!(
            decode("key", Some("a"), Some("YQ==")),
            Err(BytesFieldError::Both("key"))
        );
        assert_eq!(
            decode("key", None, Some("!!")),
            Err(BytesFieldError::BadBase64("key"))
        );
        assert_eq!(decode("key", None, None), Ok(None));
    }
}
