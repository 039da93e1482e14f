//! Numbers as JavaScript writes them (`Number.prototype.toString`, and so `JSON.stringify`),
//! from the shortest round-trip digits: what makes our JSON byte-identical to the reference's.

use std::io;

/// Writes a finite number as JavaScript's `Number.prototype.toString` (and so
/// `JSON.stringify`) does, from `shortest`: the magnitude's shortest round-trip decimal digits
/// in any plain or exponent notation (`12.5`, `1250.0`, `1.25e+22`, `5e-324`). The rules are
/// ECMA-262 `Number::toString`: plain digits up to 21 integer digits, `0.000ddd` down to
/// 10^-7, exponent form (with an explicit `+`) otherwise; `-0` prints as `0`.
pub(crate) fn write<W: ?Sized + io::Write>(
    writer: &mut W,
    negative: bool,
    shortest: &str,
) -> io::Result<()> {
    let mut buf = [0; 40];
    let Some((digits, n)) = decimal_digits(shortest, &mut buf) else {
        // Zero (or a string that is not a decimal, which the formatter never writes).
        return writer.write_all(b"0");
    };
    let k = digits.len() as i32;
    if negative {
        writer.write_all(b"-")?;
    }
    // The value is 0.DIGITS × 10^n.
    if k <= n && n <= 21 {
        writer.write_all(digits)?;
        for _ in 0..n - k {
            writer.write_all(b"0")?;
        }
    } else if 0 < n && n <= 21 {
        let (int, frac) = digits.split_at(n as usize);
        writer.write_all(int)?;
        writer.write_all(b".")?;
        writer.write_all(frac)?;
    } else if -6 < n && n <= 0 {
        writer.write_all(b"0.")?;
        for _ in 0..-n {
            writer.write_all(b"0")?;
        }
        writer.write_all(digits)?;
    } else {
        let (first, others) = digits.split_at(1);
        writer.write_all(first)?;
        if !others.is_empty() {
            writer.write_all(b".")?;
            writer.write_all(others)?;
        }
        writer.write_all(if n > 0 { b"e+" } else { b"e-" })?;
        // Exponent form is rare (beyond 1e21 or below 1e-6): the integer formatter will do.
        write!(writer, "{}", (n - 1).unsigned_abs())?;
    }
    Ok(())
}

/// Splits a non-negative decimal (`d.ddd`, `ddd`, `0.00ddd`, optionally followed by
/// `e[+-]ddd`) into its significant digits, without leading or trailing zeros, and `n` such
/// that the value is 0.DIGITS × 10^n. `None` for zero or anything else.
fn decimal_digits<'b>(text: &str, buf: &'b mut [u8; 40]) -> Option<(&'b [u8], i32)> {
    let (mantissa, exponent) = match text.split_once(['e', 'E']) {
        Some((mantissa, exponent)) => (mantissa, exponent.parse::<i32>().ok()?),
        None => (text, 0),
    };
    let (int, frac) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    let mut len = 0;
    let mut n = i32::try_from(int.len()).ok()?.checked_add(exponent)?;
    for &b in int.as_bytes().iter().chain(frac.as_bytes()) {
        if !b.is_ascii_digit() {
            return None;
        }
        if len == 0 && b == b'0' {
            n = n.checked_sub(1)?; // a leading zero
            continue;
        }
        *buf.get_mut(len)? = b;
        len += 1;
    }
    while len > 0 && buf[len - 1] == b'0' {
        len -= 1;
    }
    (len > 0).then_some((&buf[..len], n))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn digit_count(text: &str) -> Option<usize> {
        let mut buf = [0; 40];
        decimal_digits(text, &mut buf).map(|(digits, _)| digits.len())
    }

    #[test]
    fn decimal_digits_normalizes_every_notation() {
        let parse = |text: &str| {
            let mut buf = [0; 40];
            decimal_digits(text, &mut buf)
                .map(|(digits, n)| (String::from_utf8_lossy(digits).into_owned(), n))
        };
        for text in [
            "1250", "1250.0", "1.25e3", "125e1", "1.25E+3", "0.0125e5", "12500e-1",
        ] {
            assert_eq!(parse(text), Some(("125".to_owned(), 4)), "{text}");
        }
        assert_eq!(parse("12.5"), Some(("125".to_owned(), 2)));
        assert_eq!(parse("0.00125"), Some(("125".to_owned(), -2)));
        assert_eq!(parse("5e-324"), Some(("5".to_owned(), -323)));
        for not_a_number in ["0.0", "0", "", "abc", "1e", "1.2.3", "-1"] {
            assert_eq!(parse(not_a_number), None, "{not_a_number}");
        }
    }

    proptest::proptest! {
        #![proptest_config(proptest::test_runner::Config::with_cases(50_000))]

        /// zmij's digits are as short as Rust's own `{:e}` and read back as the same number,
        /// for any finite `f64` and `f32` (all bit patterns, so subnormals and extremes come
        /// up). They may differ from std's in an exact tie, which ECMA-262 (and zmij) settle
        /// towards the even digit: `668339170432839.25` is `668339170432839.2` in JavaScript
        /// where std writes `…839.3`; `tests/reference.rs` holds such cases from Node.
        #[test]
        fn shortest_digits_are_as_short_as_std(bits in proptest::prelude::any::<u64>()) {
            let mut buffer = zmij::Buffer::new();
            let value = f64::from_bits(bits).abs();
            if value.is_finite() {
                let ours = buffer.format_finite(value);
                proptest::prop_assert_eq!(ours.parse::<f64>().ok(), Some(value));
                proptest::prop_assert_eq!(digit_count(ours), digit_count(&format!("{value:e}")));
            }
            let value = f32::from_bits(bits as u32).abs();
            if value.is_finite() {
                let ours = buffer.format_finite(value);
                proptest::prop_assert_eq!(ours.parse::<f32>().ok(), Some(value));
                proptest::prop_assert_eq!(digit_count(ours), digit_count(&format!("{value:e}")));
            }
        }
    }
}
