//! [`Utf8Bytes`]: shared, immutable bytes known to be UTF-8.

use bytes::Bytes;
use core::{fmt, ops::Deref, str};

/// A [`Bytes`] buffer that is known to hold valid UTF-8.
///
/// Text data decoded from a frame is a slice of that frame (O(1), no copy), so it keeps the
/// whole frame's allocation alive. Call [`Utf8Bytes::detach`] to copy it out when you hold it for
/// long while the rest of the frame could be freed.
#[derive(Clone, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Utf8Bytes(Bytes);

impl Utf8Bytes {
    /// An empty string.
    pub const fn new() -> Self {
        Utf8Bytes(Bytes::new())
    }

    /// Copies `text` into a new buffer.
    pub fn copy_from_str(text: &str) -> Self {
        Utf8Bytes(Bytes::copy_from_slice(text.as_bytes()))
    }

    /// Wraps a static string without copying.
    pub const fn from_static(s: &'static str) -> Self {
        Utf8Bytes(Bytes::from_static(s.as_bytes()))
    }

    /// Checks that `bytes` is UTF-8 and wraps it without copying.
    pub fn try_from_bytes(bytes: Bytes) -> Result<Self, str::Utf8Error> {
        str::from_utf8(&bytes)?;
        Ok(Utf8Bytes(bytes))
    }

    /// The text, without checking it again.
    ///
    /// Checking here as well (safe `str::from_utf8`) cost a second full pass over every
    /// payload each time it was read: on a 14 KB event, more than the whole JSON validation.
    #[allow(unsafe_code)]
    #[inline]
    pub fn as_str(&self) -> &str {
        debug_assert!(str::from_utf8(&self.0).is_ok());
        // SAFETY: the field is private and every constructor establishes UTF-8: `new`,
        // `Default` and `from_static` (empty or a `&str`), `copy_from_str` and `From<String>`
        // (a `str`'s bytes), `try_from_bytes` (checked), `slice_ref` (exactly the bytes of a
        // `&str`, so whole characters), `into_slice` (checked character boundaries) and `detach` (a copy of valid bytes). `Bytes` is
        // immutable, so the bytes cannot change afterwards. Tested under Miri (`tests` below).
        unsafe { str::from_utf8_unchecked(&self.0) }
    }

    /// Length in bytes.
    #[inline]
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether the text is empty.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The underlying bytes.
    #[inline]
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// Unwraps the underlying [`Bytes`].
    pub fn into_bytes(self) -> Bytes {
        self.0
    }

    /// Returns the part of `self` that `subset` borrows, without copying.
    ///
    /// # Panics
    /// If `subset` is not a slice of `self.as_str()` (a caller bug, never peer input).
    #[inline]
    pub fn slice_ref(&self, subset: &str) -> Utf8Bytes {
        Utf8Bytes(self.0.slice_ref(subset.as_bytes()))
    }

    /// Narrows `self` to `range` in place: unlike [`slice_ref`](Self::slice_ref), no
    /// reference count is touched (each touch is an atomic operation, which on small packets
    /// costs as much as parsing them).
    ///
    /// # Panics
    /// If `range` is out of bounds or does not fall on character boundaries (a caller bug,
    /// never peer input).
    #[inline]
    pub fn into_slice(mut self, range: core::ops::Range<usize>) -> Utf8Bytes {
        let text = self.as_str();
        assert!(
            range.start <= range.end
                && text.is_char_boundary(range.start)
                && text.is_char_boundary(range.end),
            "Utf8Bytes::into_slice: {range:?} is not a character range of the text"
        );
        self.0.truncate(range.end);
        bytes::Buf::advance(&mut self.0, range.start);
        self
    }

    /// Copies the text into a buffer of its own, so that the frame it was sliced from can be
    /// freed. Worth it when the text is small and kept for long.
    pub fn detach(&self) -> Utf8Bytes {
        Utf8Bytes(Bytes::copy_from_slice(&self.0))
    }
}

impl Deref for Utf8Bytes {
    type Target = str;
    fn deref(&self) -> &str {
        self.as_str()
    }
}

impl AsRef<str> for Utf8Bytes {
    fn as_ref(&self) -> &str {
        self.as_str()
    }
}

impl AsRef<[u8]> for Utf8Bytes {
    fn as_ref(&self) -> &[u8] {
        &self.0
    }
}

impl From<String> for Utf8Bytes {
    fn from(s: String) -> Self {
        Utf8Bytes(Bytes::from(s))
    }
}

impl From<&'static str> for Utf8Bytes {
    fn from(s: &'static str) -> Self {
        Utf8Bytes::from_static(s)
    }
}

impl TryFrom<Bytes> for Utf8Bytes {
    type Error = str::Utf8Error;
    fn try_from(bytes: Bytes) -> Result<Self, Self::Error> {
        Utf8Bytes::try_from_bytes(bytes)
    }
}

impl From<Utf8Bytes> for Bytes {
    fn from(s: Utf8Bytes) -> Bytes {
        s.0
    }
}

impl PartialEq<str> for Utf8Bytes {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == other
    }
}

impl PartialEq<&str> for Utf8Bytes {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

impl fmt::Debug for Utf8Bytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

impl fmt::Display for Utf8Bytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every constructor, read back through `as_str`; run under Miri too:
    /// `cargo +nightly miri test -p engineio-proto --lib utf8`.
    #[test]
    fn every_constructor_reads_back() {
        let frame = Utf8Bytes::from(String::from("4é€😀x"));
        let tail = frame.slice_ref(&frame.as_str()[1..]);
        let values = [
            (Utf8Bytes::new(), ""),
            (Utf8Bytes::default(), ""),
            (Utf8Bytes::from_static("static"), "static"),
            (Utf8Bytes::from("from"), "from"),
            (Utf8Bytes::copy_from_str("cöpy"), "cöpy"),
            (
                Utf8Bytes::try_from_bytes(Bytes::from_static("ok ✓".as_bytes())).unwrap(),
                "ok ✓",
            ),
            (tail.clone(), "é€😀x"),
            (frame.clone().into_slice(1..3), "é"),
            (frame.clone().into_slice(6..6), ""),
            (tail.detach(), "é€😀x"),
            (frame.clone(), "4é€😀x"),
        ];
        for (value, text) in values {
            assert_eq!(value.as_str(), text);
            assert_eq!(&*value, text);
        }
        assert!(Utf8Bytes::try_from_bytes(Bytes::from_static(b"\xff")).is_err());
        #[allow(clippy::reversed_empty_ranges)] // a reversed range is one of the bad inputs
        for bad in [0..2, 2..3, 3..1, 0..100] {
            let frame = frame.clone();
            assert!(std::panic::catch_unwind(move || frame.into_slice(bad)).is_err());
        }
        assert!(Utf8Bytes::try_from_bytes(Bytes::from_static("é".as_bytes()).slice(..1)).is_err());
    }
}
