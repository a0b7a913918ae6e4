//! What a new campaign's name may be made of, beyond its length and control characters: a
//! name is shown to users in lists, so it must show something, and it must not change how the
//! text around it is shown.
//!
//! The rules lean on Unicode general categories (`unicode-properties`, kept in step with the
//! Unicode version by its maintainers) rather than a hand-kept list of code points, which
//! would silently miss the format characters a later Unicode version adds:
//! - no format character (`Cf`) anywhere: bidirectional overrides and isolates (U+202A–202E,
//!   U+2066–2069) reorder what follows the name, zero-width spaces and joiners (U+200B–200D,
//!   U+2060, U+FEFF), the soft hyphen and the tag characters hide text; nor line or paragraph
//!   separators (`Zl`, `Zp`), which break a one-line field as a control character would;
//! - at least one visible character: a letter, number, punctuation or symbol (`L`, `N`, `P`,
//!   `S`). Spaces, marks with nothing to combine with, and the characters listed in
//!   [`BLANK_GRAPHIC`] show nothing on their own.

use unicode_properties::{GeneralCategory, GeneralCategoryGroup, UnicodeGeneralCategory};

/// Letters and symbols that render blank. The four Hangul fillers are the only letters
/// (`Lo`) Unicode lists as Default_Ignorable_Code_Point (DerivedCoreProperties.txt; no number,
/// punctuation or symbol is); the Braille blank is a symbol (`So`) drawn as an empty cell.
/// Names made of them look empty in every list, which is the trick being refused.
pub(crate) const BLANK_GRAPHIC: [char; 5] = [
    '\u{115F}', // HANGUL CHOSEONG FILLER
    '\u{1160}', // HANGUL JUNGSEONG FILLER
    '\u{3164}', // HANGUL FILLER
    '\u{FFA0}', // HALFWIDTH HANGUL FILLER
    '\u{2800}', // BRAILLE PATTERN BLANK
];

/// Why a name is refused (the `name` field's message).
pub(crate) fn check_shown_name(name: &str) -> Result<(), &'static str> {
    if let Some(bad) = name.chars().find(|&c| changes_layout(c)) {
        return Err(if bad.general_category() == GeneralCategory::Format {
            "must not contain invisible format characters (Unicode Cf: bidirectional \
             overrides, zero-width characters, ...)"
        } else {
            "must not contain line or paragraph separators"
        });
    }
    if !name.chars().any(is_visible) {
        return Err("must contain at least one visible character");
    }
    Ok(())
}

fn changes_layout(c: char) -> bool {
    matches!(
        c.general_category(),
        GeneralCategory::Format
            | GeneralCategory::LineSeparator
            | GeneralCategory::ParagraphSeparator
    )
}

fn is_visible(c: char) -> bool {
    matches!(
        c.general_category_group(),
        GeneralCategoryGroup::Letter
            | GeneralCategoryGroup::Number
            | GeneralCategoryGroup::Punctuation
            | GeneralCategoryGroup::Symbol
    ) && !BLANK_GRAPHIC.contains(&c)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ordinary_names_in_any_script_pass() {
        for name in [
            "Double 11 sale",
            "双十一秒杀",
            "Распродажа",
            "عرض رمضان",
            "🎉 party",
            "é (composed) and e\u{0301} (combining)",
            "-",
            "€5",
        ] {
            assert_eq!(check_shown_name(name), Ok(()), "{name:?}");
        }
    }

    #[test]
    fn format_characters_are_refused_anywhere() {
        for bad in [
            "sale\u{202E}elas", // right-to-left override
            "\u{2066}sale\u{2069}",
            "sale\u{200B}",
            "sa\u{200D}le",
            "\u{FEFF}sale",
            "sale\u{00AD}",
            "sale\u{E0041}", // a tag character
            "sale\u{2028}more",
            "sale\u{2029}more",
        ] {
            assert!(check_shown_name(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn names_that_show_nothing_are_refused() {
        for blank in [
            "\u{3000}",
            "\u{00A0}\u{2003}",
            "\u{0301}\u{0301}",
            "\u{3164}",
            "\u{115F}\u{1160}",
            "\u{FFA0} ",
            "\u{2800}\u{2800}",
            "\u{FE0F}",
        ] {
            assert_eq!(
                check_shown_name(blank),
                Err("must contain at least one visible character"),
                "{blank:?}"
            );
        }
    }
}
