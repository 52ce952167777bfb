//! A merchant's pattern for a buyer field and a buyer's answer: no panic,
//! bounded compile, and a match is always a whole-answer match.
#![no_main]

use kapu_core::buyer_patterns::{check, matches};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let (pattern, answer) = text.split_once('\n').unwrap_or((text, ""));
    if matches(pattern, answer) {
        let r = check(pattern).expect("a matching pattern compiled");
        assert!(r.find(answer).is_some_and(|m| m.start() == 0 && m.end() == answer.len()));
    }
});
