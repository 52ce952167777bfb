//! Merchants' patterns for the fields buyers fill in at checkout: compiled
//! once per pattern (not on every checkout) under size limits, so a
//! merchant's regular expression costs the shared threads a lookup.

use std::sync::Arc;
use std::sync::LazyLock;
use std::sync::atomic::{AtomicU64, Ordering};

use regex::{Regex, RegexBuilder};

/// Longest pattern a merchant may save.
pub const MAX_PATTERN_LEN: usize = 200;
/// Memory one compiled pattern may take (program and lazy DFA each).
const SIZE_LIMIT: usize = 256 * 1024;

static COMPILED: LazyLock<moka::sync::Cache<String, Option<Arc<Regex>>>> =
    LazyLock::new(|| moka::sync::Cache::builder().max_capacity(10_000).build());
static COMPILES: AtomicU64 = AtomicU64::new(0);

/// Why a pattern cannot be used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PatternError {
    TooLong,
    /// Not a regular expression, or too big once compiled.
    Invalid,
}

/// Compiles `pattern` anchored to the whole answer, within the limits.
pub fn check(pattern: &str) -> Result<Arc<Regex>, PatternError> {
    if pattern.len() > MAX_PATTERN_LEN {
        return Err(PatternError::TooLong);
    }
    COMPILED
        .get_with(pattern.to_string(), || {
            COMPILES.fetch_add(1, Ordering::Relaxed);
            let build = |p: &str| {
                RegexBuilder::new(p).size_limit(SIZE_LIMIT).dfa_size_limit(SIZE_LIMIT).nest_limit(50).build().ok()
            };
            // On its own first: a pattern such as `x)|(y` is balanced only
            // inside the anchoring group, which it would break open (found
            // by fuzzing: `^(?:x)|(y)$` accepts any answer starting with x).
            build(pattern)?;
            build(&format!("^(?:{pattern})$")).map(Arc::new)
        })
        .ok_or(PatternError::Invalid)
}

/// Whether `answer` matches `pattern` (an unusable pattern matches nothing).
pub fn matches(pattern: &str, answer: &str) -> bool {
    check(pattern).is_ok_and(|r| r.is_match(answer))
}

/// Patterns compiled by this process so far (for tests and benchmarks).
pub fn compiles() -> u64 {
    COMPILES.load(Ordering::Relaxed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pattern_is_compiled_once_and_anchored() {
        let p = "[0-9]{6,12}-once";
        assert!(matches(p, "123456-once"));
        let before = compiles();
        for _ in 0..1_000 {
            assert!(matches(p, "1234567-once"));
            assert!(!matches(p, "x1234567-once"), "anchored at both ends");
        }
        assert_eq!(compiles(), before, "no compile per checkout");
    }

    #[test]
    fn a_pattern_cannot_break_out_of_its_anchors() {
        // Balanced only once wrapped: refused, instead of matching prefixes.
        assert_eq!(check("C)*|a+=(b").err(), Some(PatternError::Invalid));
        assert!(!matches("C)*|a+=(b", "aa-anything"));
        assert_eq!(check("x)|(y").err(), Some(PatternError::Invalid));
        // Alternation inside a whole pattern stays anchored.
        assert!(matches("ab|cd", "cd"));
        assert!(!matches("ab|cd", "abX"));
    }

    #[test]
    fn oversized_and_overlong_patterns_are_refused() {
        assert_eq!(check(&"a".repeat(201)).err(), Some(PatternError::TooLong));
        // Small to type, huge once compiled.
        assert_eq!(check("(\\w{1,100}){1,100}").err(), Some(PatternError::Invalid));
        assert_eq!(check("(unclosed").err(), Some(PatternError::Invalid));
        assert!(!matches("(\\w{1,100}){1,100}", "abc"));
        assert!(check("[A-Z]{2}[0-9]{4}").is_ok());
    }
}
