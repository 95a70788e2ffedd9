//! Page-number cursors, the most common pagination of HR APIs.
//!
//! The cursor is the page number as text; `None` means the first page.

use crate::Error;

/// The page number a cursor stands for (1 when `None`).
pub fn page_number(cursor: Option<&str>) -> Result<u32, Error> {
    match cursor {
        None => Ok(1),
        Some(c) => c
            .trim()
            .parse::<u32>()
            .ok()
            .filter(|n| *n >= 1)
            .ok_or_else(|| Error::Other(format!("`{c}` is not a page cursor"))),
    }
}

/// The cursor of the page after `page`, or `None` if `page` is the last of `total_pages`.
pub fn next_cursor(page: u32, total_pages: u32) -> Option<String> {
    (page < total_pages).then(|| (page + 1).to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip() {
        assert_eq!(page_number(None).ok(), Some(1));
        assert_eq!(page_number(Some("3")).ok(), Some(3));
        assert!(page_number(Some("0")).is_err());
        assert!(page_number(Some("x")).is_err());
        assert_eq!(next_cursor(1, 3).as_deref(), Some("2"));
        assert_eq!(next_cursor(3, 3), None);
    }
}
