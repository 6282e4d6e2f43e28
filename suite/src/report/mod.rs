//! Sinks of the event stream: JUnit XML, the console/text summary, the coverage matrix and
//! the baseline comparison.

pub mod baseline;
pub mod coverage;
pub mod junit;
pub mod summary;

/// Makes text safe for XML 1.0: drops ANSI colour sequences and control characters other
/// than newline and tab, which no XML parser accepts even escaped.
pub fn xml_safe(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            // CSI: ESC [ params final-byte(0x40..=0x7e)
            if chars.peek() == Some(&'[') {
                chars.next();
                for d in chars.by_ref() {
                    if ('\u{40}'..='\u{7e}').contains(&d) {
                        break;
                    }
                }
            }
            continue;
        }
        if c == '\n' || c == '\t' || !(c.is_control() || c == '\u{fffe}' || c == '\u{ffff}') {
            out.push(c);
        }
    }
    out
}

/// XML-safe single line for attributes (parsers fold newlines in attributes to spaces).
pub fn one_line(s: &str) -> String {
    xml_safe(s).lines().next().unwrap_or("").to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strips_ansi_and_controls() {
        assert_eq!(xml_safe("\u{1b}[31mred\u{1b}[0m\u{7}\r\nx\ty"), "red\nx\ty");
        assert_eq!(one_line("first\nsecond"), "first");
    }
}
