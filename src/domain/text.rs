//! The characters that are not plain visible text, classified, so that the id
//! and name rules can refuse them and say why. The rules themselves live with
//! what they guard (`ids`, `buyer_name`); this file only names characters.

use unicode_properties::{GeneralCategory, UnicodeGeneralCategory};

/// A kind of character that is not plain visible text (or U+0020 SPACE).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CharClass {
    /// Cc: C0/C1 controls, NUL, tab, line feed, DEL.
    Control,
    /// U+202D, U+202E: reorder everything after them in a bidi-aware display.
    BidiOverride,
    /// U+202A–U+202C.
    BidiEmbedding,
    /// U+2066–U+2069.
    BidiIsolate,
    /// U+200E, U+200F, U+061C: invisible direction marks.
    BidiMark,
    /// U+200B–U+200D, U+2060, U+FEFF (byte order mark).
    ZeroWidth,
    /// U+00AD: shown only at a line break.
    SoftHyphen,
    /// Any other Cf (format) character, e.g. U+2061 FUNCTION APPLICATION.
    Format,
    /// Default_Ignorable_Code_Point outside Cf: variation selectors, the Hangul
    /// fillers, U+034F COMBINING GRAPHEME JOINER, Mongolian variation selectors…
    /// rendered as nothing.
    Invisible,
    /// U+2028, U+2029 (Zl, Zp).
    LineBreak,
    /// Zs other than U+0020: no-break, ideographic, en/em spaces… which look
    /// like (or unlike) a plain space.
    OtherSpace,
    /// Co: meaning only by private agreement; fonts differ.
    PrivateUse,
    /// Cn (unassigned in Unicode 18, or a noncharacter such as U+FFFF) and Cs.
    Unassigned,
}

impl CharClass {
    /// Words for error messages: "contains U+202E (a bidi override)".
    pub fn describe(self) -> &'static str {
        match self {
            CharClass::Control => "a control character",
            CharClass::BidiOverride => "a bidi override",
            CharClass::BidiEmbedding => "a bidi embedding",
            CharClass::BidiIsolate => "a bidi isolate",
            CharClass::BidiMark => "an invisible bidi mark",
            CharClass::ZeroWidth => "a zero-width character",
            CharClass::SoftHyphen => "a soft hyphen",
            CharClass::Format => "an invisible format character",
            CharClass::Invisible => "an invisible character",
            CharClass::LineBreak => "a line or paragraph separator",
            CharClass::OtherSpace => "a space other than U+0020",
            CharClass::PrivateUse => "a private-use character",
            CharClass::Unassigned => "an unassigned code point or noncharacter",
        }
    }

    /// The controls that can reorder or hide text around them when shown
    /// (Trojan Source, CVE-2021-42574), or break a line in a log or a UI.
    pub fn rearranges_display(self) -> bool {
        matches!(
            self,
            CharClass::Control
                | CharClass::BidiOverride
                | CharClass::BidiEmbedding
                | CharClass::BidiIsolate
                | CharClass::LineBreak
        )
    }
}

/// The class of `c`, or `None` for visible text and U+0020.
pub fn classify(c: char) -> Option<CharClass> {
    // The named bidi and zero-width characters are Cf; they are matched first so
    // that an error says which they are.
    let named = match c {
        '\u{202D}' | '\u{202E}' => Some(CharClass::BidiOverride),
        '\u{202A}'..='\u{202C}' => Some(CharClass::BidiEmbedding),
        '\u{2066}'..='\u{2069}' => Some(CharClass::BidiIsolate),
        '\u{200E}' | '\u{200F}' | '\u{061C}' => Some(CharClass::BidiMark),
        '\u{200B}'..='\u{200D}' | '\u{2060}' | '\u{FEFF}' => Some(CharClass::ZeroWidth),
        '\u{00AD}' => Some(CharClass::SoftHyphen),
        _ => None,
    };
    if named.is_some() {
        return named;
    }
    match c.general_category() {
        GeneralCategory::Control => Some(CharClass::Control),
        GeneralCategory::Format => Some(CharClass::Format),
        GeneralCategory::LineSeparator | GeneralCategory::ParagraphSeparator => {
            Some(CharClass::LineBreak)
        }
        GeneralCategory::SpaceSeparator if c != ' ' => Some(CharClass::OtherSpace),
        GeneralCategory::PrivateUse => Some(CharClass::PrivateUse),
        GeneralCategory::Unassigned | GeneralCategory::Surrogate => Some(CharClass::Unassigned),
        _ if default_ignorable(c) => Some(CharClass::Invisible),
        _ => None,
    }
}

/// Default_Ignorable_Code_Point (Unicode DerivedCoreProperties.txt): shown as
/// nothing when a font has no glyph. unicode-properties has no table for it;
/// the ranges that are not Cf or Cn are few, so they are listed here (the Cf and
/// Cn ones are caught by their category first).
fn default_ignorable(c: char) -> bool {
    matches!(
        c,
        '\u{034F}'
            | '\u{115F}'..='\u{1160}'
            | '\u{17B4}'..='\u{17B5}'
            | '\u{180B}'..='\u{180F}'
            | '\u{3164}'
            | '\u{FE00}'..='\u{FE0F}'
            | '\u{FFA0}'
            | '\u{1BCA0}'..='\u{1BCA3}'
            | '\u{1D173}'..='\u{1D17A}'
            | '\u{E0000}'..='\u{E0FFF}'
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn visible_text_has_no_class() {
        for c in [
            'a', 'Z', '7', ' ', '-', '/', '{', 'ü', '株', 'ß', 'Я', '😀', '\u{0301}',
        ] {
            assert_eq!(classify(c), None, "U+{:04X}", c as u32);
        }
    }

    #[test]
    fn each_class_with_an_example() {
        let cases = [
            ('\0', CharClass::Control),
            ('\u{7F}', CharClass::Control),
            ('\u{85}', CharClass::Control),
            ('\u{202E}', CharClass::BidiOverride),
            ('\u{202B}', CharClass::BidiEmbedding),
            ('\u{2067}', CharClass::BidiIsolate),
            ('\u{200F}', CharClass::BidiMark),
            ('\u{200B}', CharClass::ZeroWidth),
            ('\u{200D}', CharClass::ZeroWidth),
            ('\u{FEFF}', CharClass::ZeroWidth),
            ('\u{00AD}', CharClass::SoftHyphen),
            ('\u{2061}', CharClass::Format),
            ('\u{E0041}', CharClass::Format),
            ('\u{FE0F}', CharClass::Invisible),
            ('\u{3164}', CharClass::Invisible),
            ('\u{034F}', CharClass::Invisible),
            ('\u{2028}', CharClass::LineBreak),
            ('\u{2029}', CharClass::LineBreak),
            ('\u{00A0}', CharClass::OtherSpace),
            ('\u{3000}', CharClass::OtherSpace),
            ('\u{E000}', CharClass::PrivateUse),
            ('\u{10FFFD}', CharClass::PrivateUse),
            ('\u{FFFF}', CharClass::Unassigned),
            ('\u{0378}', CharClass::Unassigned),
        ];
        for (c, class) in cases {
            assert_eq!(classify(c), Some(class), "U+{:04X}", c as u32);
        }
    }
}
