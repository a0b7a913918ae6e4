//! Hex digits by table: one load per character instead of a chain of range checks (ids and
//! token MACs are decoded on every grab).

/// Not a digit of the table's kind.
const NONE: u8 = 0xff;

const fn table(uppercase: bool) -> [u8; 256] {
    let mut table = [NONE; 256];
    let mut i = 0;
    while i < 10 {
        table[b'0' as usize + i] = i as u8;
        i += 1;
    }
    let mut i = 0;
    while i < 6 {
        table[b'a' as usize + i] = 10 + i as u8;
        if uppercase {
            table[b'A' as usize + i] = 10 + i as u8;
        }
        i += 1;
    }
    table
}

static ANY_CASE: [u8; 256] = table(true);
static LOWERCASE: [u8; 256] = table(false);

/// The value of a hex digit of either case.
#[inline]
pub fn any_case(byte: u8) -> Option<u8> {
    let value = ANY_CASE[usize::from(byte)];
    (value != NONE).then_some(value)
}

/// The value of a lowercase hex digit (`A`–`F` are not digits here).
#[inline]
pub fn lowercase(byte: u8) -> Option<u8> {
    let value = LOWERCASE[usize::from(byte)];
    (value != NONE).then_some(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_tables_agree_with_the_standard_library() {
        for byte in 0..=u8::MAX {
            let expected = char::from(byte).to_digit(16).map(|d| d as u8);
            assert_eq!(any_case(byte), expected, "{byte}");
            let lower = expected.filter(|_| !byte.is_ascii_uppercase());
            assert_eq!(lowercase(byte), lower, "{byte}");
        }
    }
}
