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

    /// The text.
    pub fn as_str(&self) -> &str {
        // Every constructor checks or inherits UTF-8 validity; a failure here is a bug in this
        // module, never something a peer can cause.
        str::from_utf8(&self.0).expect("Utf8Bytes holds UTF-8 by construction")
    }

    /// Length in bytes.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether the text is empty.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The underlying bytes.
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
    pub fn slice_ref(&self, subset: &str) -> Utf8Bytes {
        Utf8Bytes(self.0.slice_ref(subset.as_bytes()))
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
