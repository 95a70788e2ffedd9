//! What every HR text and every rendered value goes through before it can reach the directory:
//! whitespace runs (tabs, new lines, non-breaking spaces) become one space, control and invisible
//! formatting characters (zero-width spaces and joiners, bidi marks, the BOM, soft hyphens) are
//! removed, and the ends are trimmed.

/// Invisible formatting characters that no directory value should carry.
fn is_invisible(c: char) -> bool {
    matches!(
        c,
        '\u{00AD}'
            | '\u{180E}'
            | '\u{200B}'..='\u{200F}'
            | '\u{202A}'..='\u{202E}'
            | '\u{2060}'..='\u{2064}'
            | '\u{2066}'..='\u{206F}'
            | '\u{FEFF}'
            | '\u{FFF9}'..='\u{FFFB}'
    )
}

/// The cleaned value (see the module docs). Borrowed when nothing changes.
pub fn clean(value: &str) -> std::borrow::Cow<'_, str> {
    let needs = value.starts_with(char::is_whitespace)
        || value.ends_with(char::is_whitespace)
        || value.chars().any(|c| c.is_control() || is_invisible(c))
        || value
            .chars()
            .zip(value.chars().skip(1))
            .any(|(a, b)| a.is_whitespace() && b.is_whitespace())
        || value.chars().any(|c| c.is_whitespace() && c != ' ');
    if !needs {
        return std::borrow::Cow::Borrowed(value);
    }
    let mut out = String::with_capacity(value.len());
    let mut space = false;
    for c in value.chars() {
        if c.is_whitespace() {
            space = !out.is_empty();
        } else if c.is_control() || is_invisible(c) {
            continue;
        } else {
            if space {
                out.push(' ');
                space = false;
            }
            out.push(c);
        }
    }
    std::borrow::Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::clean;

    #[test]
    fn trims_collapses_and_drops_invisible_characters() {
        assert_eq!(clean("  Ada\tLovelace \n"), "Ada Lovelace");
        assert_eq!(clean("Jo\u{200B}hn\u{FEFF}"), "John");
        assert_eq!(clean("a\u{00A0}\u{00A0}b"), "a b");
        assert_eq!(clean("x\u{0007}y"), "xy");
        assert_eq!(clean("\u{200B} \u{200B}"), "");
        assert_eq!(
            clean(r#"Smith, John+Jr="\<x>;#*()"#),
            r#"Smith, John+Jr="\<x>;#*()"#
        );
    }

    #[test]
    fn leaves_clean_values_borrowed() {
        assert!(matches!(
            clean("Ada Lovelace"),
            std::borrow::Cow::Borrowed(_)
        ));
    }
}
