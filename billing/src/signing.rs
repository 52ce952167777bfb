//! The "sorted parameters" text that epay, epusdt and Alipay sign, and MD5.

use std::collections::BTreeMap;

use md5::{Digest, Md5};

/// `k1=v1&k2=v2…`: keys in ASCII order, values as they are (not URL-encoded),
/// skipping empty values and the keys in `skip`.
pub fn sorted_params_text(fields: &BTreeMap<String, String>, skip: &[&str]) -> String {
    fields
        .iter()
        .filter(|(k, v)| !v.is_empty() && !skip.contains(&k.as_str()))
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("&")
}

/// Lower-case hex MD5.
pub fn md5_hex(text: &str) -> String {
    let digest = Md5::digest(text.as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sorted_text_skips_empty_values_and_named_keys() {
        let f: BTreeMap<String, String> = [("b", "2"), ("a", "1"), ("sign", "x"), ("sign_type", "MD5"), ("c", "")]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        assert_eq!(sorted_params_text(&f, &["sign", "sign_type"]), "a=1&b=2");
        assert_eq!(md5_hex(""), "d41d8cd98f00b204e9800998ecf8427e");
    }
}
