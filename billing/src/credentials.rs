//! Reading a merchant's channel credentials (decrypted JSON).

use serde::de::DeserializeOwned;

/// Parses credentials; the error says which field is wrong, never its value.
pub fn parse<T: DeserializeOwned>(json: &str) -> Result<T, String> {
    serde_json::from_str(json).map_err(|e| {
        // serde's messages name fields and types, not values, for these structs.
        format!("credentials are incomplete: {e}")
    })
}

/// A gateway base URL a merchant typed: http(s), no query, no trailing slash.
pub fn gateway_base(raw: &str) -> Result<String, String> {
    let t = raw.trim().trim_end_matches('/');
    let ok = (t.starts_with("https://") || t.starts_with("http://")) && !t.contains('?') && !t.contains('#');
    if !ok || t.len() < 10 {
        return Err("gateway must be an http(s) address such as https://pay.example.com".into());
    }
    Ok(t.to_string())
}

/// Refuses an empty secret field.
pub fn non_empty(name: &str, v: &str) -> Result<(), String> {
    if v.trim().is_empty() { Err(format!("{name} is required")) } else { Ok(()) }
}
