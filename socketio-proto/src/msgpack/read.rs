//! Reading msgpack exactly as `notepack.io` 2.2 reads it: one token at a time, from a cursor
//! that may run past the end of the input the way the JavaScript decoder's offset does.
//!
//! notepack reads fixed-width fields through `Buffer.readUInt*`, which throw a `RangeError`
//! past the end ([`MsgpackError::OutOfBounds`]); it reads a value's first byte as
//! `buffer[offset++]`, which is `undefined` past the end and fails as `Could not parse`
//! ([`MsgpackError::CouldNotParse`]); and it slices strings and binaries without a check, so
//! a length that runs past the end moves the offset there and the decoder later fails as
//! `-N trailing bytes`. The cursor here does the same, so every input fails with the
//! reference's message. Nothing is allocated or reserved from an announced length: a count
//! of entries is walked one entry at a time, and every entry consumes at least one byte.

use super::MsgpackError;

/// One msgpack token, as the JavaScript decoder sees it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Token<'a> {
    /// `c0`.
    Nil,
    /// `d4 00 xx`: notepack's `undefined`.
    Undefined,
    /// `c2`, `c3`.
    Bool(bool),
    /// Every integer and float form but the 64-bit integers, as the JavaScript `Number` the
    /// reference makes of it (exact).
    Number(f64),
    /// `uint 64`, exact (JavaScript rounds it: [`Token::number`]).
    U64(u64),
    /// `int 64`, exact (JavaScript rounds it: [`Token::number`]).
    I64(i64),
    /// A string's bytes (UTF-8 unless the peer lies; read lossily, as `Buffer.toString`).
    Str(&'a [u8]),
    /// `bin 8/16/32`: a Node.js `Buffer`.
    Bin(&'a [u8]),
    /// `ext 8/16/32` of type 0: an `ArrayBuffer`, binary too.
    ArrayBuffer(&'a [u8]),
    /// Any other extension: the array `[type, Buffer]` in JavaScript.
    Ext(i8, &'a [u8]),
    /// `fixext 8` of type 0: a `Date`, milliseconds since the epoch.
    Date(f64),
    /// An array of this many values.
    Array(u32),
    /// A map of this many key/value pairs.
    Map(u32),
}

impl Token<'_> {
    /// The JavaScript `Number` of a numeric token: 64-bit integers rounded to a double, as
    /// `hi * 2^32 + lo` rounds the exact value once.
    pub(crate) fn number(&self) -> Option<f64> {
        match *self {
            Token::Number(n) => Some(n),
            Token::U64(n) => Some(n as f64),
            Token::I64(n) => Some(n as f64),
            _ => None,
        }
    }
}

/// A cursor over one msgpack buffer.
#[derive(Debug, Clone)]
pub(crate) struct Reader<'a> {
    buf: &'a [u8],
    /// The JavaScript decoder's offset: may lie past the end.
    at: usize,
    /// How many binary values (bin, ext) were read, and their bytes: what the JSON form of
    /// the payload will not hold.
    pub(crate) binaries: usize,
    pub(crate) binary_bytes: usize,
}

impl<'a> Reader<'a> {
    pub(crate) fn new(buf: &'a [u8]) -> Self {
        Self {
            buf,
            at: 0,
            binaries: 0,
            binary_bytes: 0,
        }
    }

    /// The offset of the next token (possibly past the end).
    pub(crate) fn offset(&self) -> usize {
        self.at
    }

    /// The bytes between `start` and the current offset, clamped to the input.
    pub(crate) fn since(&self, start: usize) -> &'a [u8] {
        let end = self.at.min(self.buf.len());
        self.buf.get(start.min(end)..end).unwrap_or_default()
    }

    /// Fails as the reference does when the offset is not exactly at the end.
    pub(crate) fn finish(&self) -> Result<(), MsgpackError> {
        if self.at == self.buf.len() {
            Ok(())
        } else {
            // Both are at most the input length plus 2^32 + 8, far from overflowing an i64.
            let trailing = self.buf.len() as i64 - self.at as i64;
            Err(MsgpackError::TrailingBytes(trailing))
        }
    }

    #[inline]
    fn prefix(&mut self) -> Result<u8, MsgpackError> {
        let byte = self.buf.get(self.at).copied();
        self.at = self.at.saturating_add(1);
        byte.ok_or(MsgpackError::CouldNotParse)
    }

    fn fixed<const N: usize>(&mut self) -> Result<[u8; N], MsgpackError> {
        let bytes = self
            .at
            .checked_add(N)
            .and_then(|end| self.buf.get(self.at..end))
            .and_then(|slice| <[u8; N]>::try_from(slice).ok())
            .ok_or(MsgpackError::OutOfBounds {
                offset: self.at as u64,
                max: self.buf.len() as i64 - N as i64,
            })?;
        self.at += N;
        Ok(bytes)
    }

    fn u8(&mut self) -> Result<u8, MsgpackError> {
        self.fixed::<1>().map(|[b]| b)
    }

    fn u16(&mut self) -> Result<u16, MsgpackError> {
        self.fixed().map(u16::from_be_bytes)
    }

    fn u32(&mut self) -> Result<u32, MsgpackError> {
        self.fixed().map(u32::from_be_bytes)
    }

    /// [`take`](Self::take) for a binary value, counted.
    fn binary(&mut self, length: usize) -> &'a [u8] {
        let data = self.take(length);
        self.binaries += 1;
        self.binary_bytes += data.len();
        data
    }

    /// Two big-endian 32-bit words, read one after the other.
    fn words(&mut self) -> Result<u64, MsgpackError> {
        let hi = self.u32()?;
        let lo = self.u32()?;
        Ok(u64::from(hi) << 32 | u64::from(lo))
    }

    /// `length` bytes from the offset, clamped to the input; the offset moves by `length`
    /// whatever remains, as a JavaScript `slice` and `offset += length` do.
    #[inline]
    fn take(&mut self, length: usize) -> &'a [u8] {
        let end = self.at.saturating_add(length);
        let slice = self
            .buf
            .get(self.at.min(self.buf.len())..end.min(self.buf.len()))
            .unwrap_or_default();
        self.at = end;
        slice
    }

    /// An `ext` body: its type byte and data.
    fn ext(&mut self, length: usize) -> Result<Token<'a>, MsgpackError> {
        let kind = self.u8()? as i8;
        let data = self.binary(length);
        Ok(if kind == 0 {
            Token::ArrayBuffer(data)
        } else {
            Token::Ext(kind, data)
        })
    }

    /// The next token.
    #[inline]
    pub(crate) fn next(&mut self) -> Result<Token<'a>, MsgpackError> {
        let prefix = self.prefix()?;
        Ok(match prefix {
            0x00..=0x7f => Token::Number(f64::from(prefix)),
            0x80..=0x8f => Token::Map(u32::from(prefix & 0x0f)),
            0x90..=0x9f => Token::Array(u32::from(prefix & 0x0f)),
            0xa0..=0xbf => Token::Str(self.take(usize::from(prefix & 0x1f))),
            0xe0..=0xff => Token::Number(f64::from(prefix as i8)),
            0xc0 => Token::Nil,
            0xc2 => Token::Bool(false),
            0xc3 => Token::Bool(true),
            0xc4 => {
                let length = self.u8()?;
                Token::Bin(self.binary(usize::from(length)))
            }
            0xc5 => {
                let length = self.u16()?;
                Token::Bin(self.binary(usize::from(length)))
            }
            0xc6 => {
                let length = self.u32()?;
                Token::Bin(self.binary(length as usize))
            }
            0xc7 => {
                let length = self.u8()?;
                self.ext(usize::from(length))?
            }
            0xc8 => {
                let length = self.u16()?;
                self.ext(usize::from(length))?
            }
            0xc9 => {
                let length = self.u32()?;
                self.ext(length as usize)?
            }
            0xca => Token::Number(f64::from(f32::from_be_bytes(self.fixed()?))),
            0xcb => Token::Number(f64::from_be_bytes(self.fixed()?)),
            0xcc => Token::Number(f64::from(self.u8()?)),
            0xcd => Token::Number(f64::from(self.u16()?)),
            0xce => Token::Number(f64::from(self.u32()?)),
            // The reference reads the two words separately (which decides its error message).
            0xcf => Token::U64(self.words()?),
            0xd0 => Token::Number(f64::from(self.u8()? as i8)),
            0xd1 => Token::Number(f64::from(i16::from_be_bytes(self.fixed()?))),
            0xd2 => Token::Number(f64::from(i32::from_be_bytes(self.fixed()?))),
            0xd3 => Token::I64(self.words()? as i64),
            0xd4 => {
                let kind = self.u8()? as i8;
                if kind == 0 {
                    // The reference skips the data byte without reading it.
                    self.at = self.at.saturating_add(1);
                    Token::Undefined
                } else {
                    Token::Ext(kind, self.binary(1))
                }
            }
            0xd5 => {
                let kind = self.u8()? as i8;
                Token::Ext(kind, self.binary(2))
            }
            0xd6 => {
                let kind = self.u8()? as i8;
                Token::Ext(kind, self.binary(4))
            }
            0xd7 => {
                let kind = self.u8()? as i8;
                if kind == 0 {
                    Token::Date(self.words()? as i64 as f64)
                } else {
                    Token::Ext(kind, self.binary(8))
                }
            }
            0xd8 => {
                let kind = self.u8()? as i8;
                Token::Ext(kind, self.binary(16))
            }
            0xd9 => {
                let length = self.u8()?;
                Token::Str(self.take(usize::from(length)))
            }
            0xda => {
                let length = self.u16()?;
                Token::Str(self.take(usize::from(length)))
            }
            0xdb => {
                let length = self.u32()?;
                Token::Str(self.take(length as usize))
            }
            0xdc => Token::Array(u32::from(self.u16()?)),
            0xdd => Token::Array(self.u32()?),
            0xde => Token::Map(u32::from(self.u16()?)),
            0xdf => Token::Map(self.u32()?),
            // 0xc1 is never used.
            _ => return Err(MsgpackError::CouldNotParse),
        })
    }

    /// [`skip`](Self::skip) with the packet map's usual keys and values (positive fixint,
    /// fixstr) read in place.
    #[inline]
    pub(crate) fn skip_small(&mut self, depth: usize) -> Result<Token<'a>, MsgpackError> {
        match self.buf.get(self.at) {
            Some(&prefix @ 0x00..=0x7f) => {
                self.at += 1;
                Ok(Token::Number(f64::from(prefix)))
            }
            Some(&prefix @ 0xa0..=0xbf) => {
                self.at += 1;
                Ok(Token::Str(self.take(usize::from(prefix & 0x1f))))
            }
            _ => self.skip(depth),
        }
    }

    /// Skips one whole value, nested at most `depth` containers deep, and returns its first
    /// token.
    pub(crate) fn skip(&mut self, depth: usize) -> Result<Token<'a>, MsgpackError> {
        let token = self.next()?;
        let entries = match token {
            Token::Array(n) => u64::from(n),
            Token::Map(n) => 2 * u64::from(n),
            _ => return Ok(token),
        };
        self.skip_entries(entries, depth)?;
        Ok(token)
    }

    /// The width of the length field of bin 8/16 and str 8/16.
    fn width(prefix: u8) -> usize {
        if matches!(prefix, 0xc4 | 0xd9) { 1 } else { 2 }
    }

    /// Skips the entries of a container. Every entry consumes at least one byte or fails, so
    /// this is bounded by the input length, whatever count was announced.
    fn skip_entries(&mut self, entries: u64, depth: usize) -> Result<(), MsgpackError> {
        let depth = depth.checked_sub(1).ok_or(MsgpackError::TooDeep)?;
        for _ in 0..entries {
            // The common one-byte headers are skipped here without building a token.
            match self.buf.get(self.at) {
                Some(0x00..=0x7f | 0xe0..=0xff | 0xc0 | 0xc2 | 0xc3) => self.at += 1,
                Some(&prefix @ 0xa0..=0xbf) => {
                    self.at += 1;
                    self.take(usize::from(prefix & 0x1f));
                }
                Some(&prefix @ 0x80..=0x9f) => {
                    self.at += 1;
                    let n = u64::from(prefix & 0x0f);
                    self.skip_entries(if prefix < 0x90 { 2 * n } else { n }, depth)?;
                }
                // bin 8/16 and str 8/16 whose length field is there.
                Some(&prefix @ (0xc4 | 0xc5 | 0xd9 | 0xda))
                    if self.at + 1 + Self::width(prefix) <= self.buf.len() =>
                {
                    let field = &self.buf[self.at + 1..self.at + 1 + Self::width(prefix)];
                    let length = field.iter().fold(0, |n, &b| n << 8 | usize::from(b));
                    self.at += 1 + field.len();
                    if prefix < 0xd0 {
                        self.binary(length);
                    } else {
                        self.take(length);
                    }
                }
                _ => {
                    self.skip(depth)?;
                }
            }
        }
        Ok(())
    }
}
