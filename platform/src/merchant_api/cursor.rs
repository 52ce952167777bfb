//! Cursor pagination: `?limit=` (1–100, default 50) and `?cursor=` from the
//! previous page's `next_cursor`. A cursor is the last row's id, opaque to
//! callers (base64url); ids are time-ordered, so pages stay stable while
//! rows are added.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use super::error::{ApiError, ApiResult};

pub const DEFAULT_LIMIT: u64 = 50;

/// `?limit=&cursor=` of a list.
#[derive(serde::Deserialize)]
pub struct PageQuery {
    pub limit: Option<String>,
    pub cursor: Option<String>,
}

impl PageQuery {
    /// The page size and the id to continue from.
    pub fn parse(&self) -> ApiResult<(u64, Option<String>)> {
        Ok((limit(self.limit.as_deref())?, decode(self.cursor.as_deref())?))
    }
}
pub const MAX_LIMIT: u64 = 100;

/// The page size asked for.
pub fn limit(raw: Option<&str>) -> ApiResult<u64> {
    // Absent means the default; present but empty (`limit=`) is not a number.
    match raw.map(str::trim) {
        None => Ok(DEFAULT_LIMIT),
        Some(s) => s.parse::<u64>().ok().filter(|n| (1..=MAX_LIMIT).contains(n)).ok_or_else(|| {
            ApiError::invalid(vec![format!(
                "limit 需为 1–{MAX_LIMIT} 的整数。limit must be a whole number from 1 to {MAX_LIMIT}."
            )])
        }),
    }
}

/// The id a cursor stands for.
pub fn decode(raw: Option<&str>) -> ApiResult<Option<String>> {
    let Some(raw) = raw.map(str::trim).filter(|s| !s.is_empty()) else { return Ok(None) };
    URL_SAFE_NO_PAD
        .decode(raw)
        .ok()
        .and_then(|b| String::from_utf8(b).ok())
        .filter(|id| id.len() == 32 && id.bytes().all(|b| b.is_ascii_hexdigit()))
        .map(Some)
        .ok_or_else(|| ApiError::invalid(vec!["cursor 无效：请使用上一页返回的 next_cursor。cursor is invalid: pass the next_cursor of the previous page.".into()]))
}

pub fn encode(id: &str) -> String {
    URL_SAFE_NO_PAD.encode(id.as_bytes())
}

/// `{"data": rows, "next_cursor": …}`; `rows` holds up to `limit + 1` items
/// (one extra to know whether another page follows).
pub fn page<T>(
    mut rows: Vec<T>,
    limit: u64,
    id_of: impl Fn(&T) -> &str,
    to_json: impl Fn(&T) -> serde_json::Value,
) -> serde_json::Value {
    let more = rows.len() as u64 > limit;
    rows.truncate(usize::try_from(limit).unwrap_or(usize::MAX));
    let next = if more { rows.last().map(|r| encode(id_of(r))) } else { None };
    serde_json::json!({ "data": rows.iter().map(to_json).collect::<Vec<_>>(), "next_cursor": next })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_garbage_is_refused() {
        let id = "0193a1b2c3d4e5f60718293a4b5c6d7e";
        assert_eq!(decode(Some(&encode(id))).expect("decodes").as_deref(), Some(id));
        assert!(decode(Some("not a cursor")).is_err());
        assert!(decode(Some(&encode("' OR 1=1 --"))).is_err());
        assert_eq!(decode(None).expect("none"), None);
        assert_eq!(limit(None).expect("default"), 50);
        assert!(limit(Some("0")).is_err() && limit(Some("101")).is_err() && limit(Some("x")).is_err());
    }

    #[test]
    fn a_page_has_a_cursor_only_when_more_rows_follow() {
        let rows = vec!["a".to_string(), "b".into(), "c".into()];
        let p = page(rows.clone(), 2, |r| r.as_str(), |r| serde_json::json!(r));
        assert_eq!(p["data"], serde_json::json!(["a", "b"]));
        assert_eq!(p["next_cursor"], serde_json::json!(encode("b")));
        let p = page(rows, 3, |r| r.as_str(), |r| serde_json::json!(r));
        assert!(p["next_cursor"].is_null());
    }
}
