//! Card-key imports in chunks, with progress a merchant can watch.
//!
//! `split_entries` turns pasted or uploaded text into numbered entries;
//! `import_chunk_for_tenant` encrypts and inserts one chunk in the caller's
//! transaction, skipping keys the product already has (by fingerprint, with
//! `ON CONFLICT DO NOTHING` as the last word under concurrency). Running an
//! import twice therefore adds nothing the second time, which is also how an
//! interrupted import is resumed.

use std::collections::HashSet;

use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Expr, OnConflict};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QueryOrder, QuerySelect,
};
use serde::{Deserialize, Serialize};

use crate::crypto::TenantKeys;
use crate::entities::{card_keys, key_imports};
use crate::ids::new_id;

/// Longest accepted key, in bytes.
pub const MAX_KEY_LEN: usize = 1024;
/// How many offending entries an import lists (every one, up to this many;
/// the counts cover the rest).
pub const MAX_PROBLEMS: usize = 1000;
/// An import that has not moved for this long was interrupted.
pub const STALL_SECS: i64 = 60;

/// What separates keys in the text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Delimiter {
    #[default]
    Newline,
    Comma,
    Semicolon,
    Tab,
    Space,
    Pipe,
}

impl Delimiter {
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "" | "newline" => Delimiter::Newline,
            "comma" => Delimiter::Comma,
            "semicolon" => Delimiter::Semicolon,
            "tab" => Delimiter::Tab,
            "space" => Delimiter::Space,
            "pipe" => Delimiter::Pipe,
            _ => return None,
        })
    }

    fn char(self) -> Option<char> {
        match self {
            Delimiter::Newline => None,
            Delimiter::Comma => Some(','),
            Delimiter::Semicolon => Some(';'),
            Delimiter::Tab => Some('\t'),
            Delimiter::Space => Some(' '),
            Delimiter::Pipe => Some('|'),
        }
    }
}

/// One key as found in the text, with the line it came from (1-based).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub line: u32,
    pub text: String,
}

/// Splits text into trimmed, non-blank entries. A UTF-8 BOM and CRLF line
/// ends are handled; with a delimiter other than newline, each line is split again.
pub fn split_entries(text: &str, delimiter: Delimiter) -> Vec<Entry> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line_no = u32::try_from(i + 1).unwrap_or(u32::MAX);
        let parts: Vec<&str> = match delimiter.char() {
            None => vec![line],
            Some(c) => line.split(c).collect(),
        };
        for p in parts {
            let t = p.trim();
            if !t.is_empty() {
                out.push(Entry { line: line_no, text: t.to_string() });
            }
        }
    }
    out
}

/// Lines of the text that hold nothing but white space (skipped by [`split_entries`]).
pub fn count_blank_lines(text: &str) -> u64 {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    text.lines().filter(|l| l.trim().is_empty()).count() as u64
}

/// Why an entry was not imported.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Problem {
    pub line: u32,
    /// `too_long`, `control_characters`, `duplicate_in_file` or `already_on_product`.
    pub reason: String,
    /// The offending text as the merchant may see it ([`excerpt`]).
    #[serde(default)]
    pub text: String,
}

/// An entry as shown in the report: control characters as `�`, and a long
/// one cut to its start and end with its length.
pub fn excerpt(text: &str) -> String {
    let clean: String = text.chars().map(|c| if c.is_control() { '\u{fffd}' } else { c }).collect();
    let n = clean.chars().count();
    if n <= 40 {
        return clean;
    }
    let head: String = clean.chars().take(24).collect();
    let tail: String = clean.chars().skip(n - 8).collect();
    format!("{head}…{tail} ({n} chars)")
}

/// Counts of one chunk (or a whole import).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ChunkOutcome {
    pub imported: u64,
    pub duplicate: u64,
    pub invalid: u64,
    pub problems: Vec<Problem>,
}

/// Imports one chunk of entries. `seen` carries fingerprints across the
/// chunks of one import, to find duplicates within the file.
pub async fn import_chunk_for_tenant<C: ConnectionTrait>(
    conn: &C,
    keys: &TenantKeys,
    tenant_id: &str,
    product_id: &str,
    entries: &[Entry],
    seen: &mut HashSet<String>,
) -> Result<ChunkOutcome, DbErr> {
    let mut out = ChunkOutcome::default();
    let now = Utc::now();
    let mut fresh: Vec<(u32, String, String)> = Vec::with_capacity(entries.len());
    for e in entries {
        let reason = if e.text.len() > MAX_KEY_LEN {
            Some("too_long")
        } else if e.text.chars().any(char::is_control) {
            Some("control_characters")
        } else {
            None
        };
        if let Some(r) = reason {
            out.invalid += 1;
            out.problems.push(Problem { line: e.line, reason: r.into(), text: excerpt(&e.text) });
            continue;
        }
        let fp = keys.fingerprint(&e.text);
        if !seen.insert(fp.clone()) {
            out.duplicate += 1;
            out.problems.push(Problem { line: e.line, reason: "duplicate_in_file".into(), text: excerpt(&e.text) });
            continue;
        }
        fresh.push((e.line, e.text.clone(), fp));
    }
    // Which of these the product already holds (for the report; the insert
    // below skips them in any case).
    let mut existing = HashSet::new();
    for part in fresh.chunks(500) {
        let fps: Vec<String> = part.iter().map(|(_, _, fp)| fp.clone()).collect();
        let found: Vec<String> = card_keys::Entity::find()
            .select_only()
            .column(card_keys::Column::Fingerprint)
            .filter(card_keys::Column::TenantId.eq(tenant_id))
            .filter(card_keys::Column::ProductId.eq(product_id))
            .filter(card_keys::Column::Fingerprint.is_in(fps))
            .into_tuple()
            .all(conn)
            .await?;
        existing.extend(found);
    }
    let mut rows = Vec::with_capacity(fresh.len());
    for (line, text, fp) in fresh {
        if existing.contains(&fp) {
            out.duplicate += 1;
            out.problems.push(Problem { line, reason: "already_on_product".into(), text: excerpt(&text) });
            continue;
        }
        let sealed = keys.seal(text.as_bytes());
        rows.push(card_keys::ActiveModel {
            tenant_id: Set(tenant_id.to_string()),
            id: Set(new_id()),
            product_id: Set(product_id.to_string()),
            ciphertext: Set(sealed.ciphertext),
            nonce: Set(sealed.nonce),
            fingerprint: Set(fp),
            status: Set("available".into()),
            order_id: Set(None),
            reserved_until: Set(None),
            sold_at: Set(None),
            created_at: Set(now),
        });
    }
    // 11 columns per row; 1,000 rows stay well under SQLite's parameter limit.
    for part in rows.chunks(1000) {
        let wanted = part.len() as u64;
        let on_conflict = OnConflict::columns([
            card_keys::Column::TenantId,
            card_keys::Column::ProductId,
            card_keys::Column::Fingerprint,
        ])
        .do_nothing()
        .to_owned();
        let inserted =
            card_keys::Entity::insert_many(part.to_vec()).on_conflict(on_conflict).exec_without_returning(conn).await?;
        out.imported += inserted;
        // Keys another import added between our check and our insert.
        out.duplicate += wanted - inserted.min(wanted);
    }
    Ok(out)
}

/// Refreshes PostgreSQL's statistics of `card_keys` (a no-op on SQLite).
///
/// A bulk import grows the table faster than autovacuum re-analyzes it; with
/// stale statistics the planner believes a product has a handful of keys and
/// checks the import's fingerprints by filtering every key of the product
/// instead of probing the unique index: 100,000 keys then took minutes
/// instead of seconds (measured with `bench/import.py`).
pub async fn refresh_card_key_statistics<C: ConnectionTrait>(conn: &C) -> Result<(), DbErr> {
    if conn.get_database_backend() == sea_orm::DbBackend::Postgres {
        conn.execute_unprepared("ANALYZE card_keys").await?;
    }
    Ok(())
}

/// Starts the progress row of an import; returns its id.
pub async fn create_key_import_for_tenant<C: ConnectionTrait>(
    conn: &C,
    tenant_id: &str,
    product_id: &str,
    total: i64,
    blank_lines: i64,
) -> Result<String, DbErr> {
    let id = new_id();
    let now = Utc::now();
    key_imports::Entity::insert(key_imports::ActiveModel {
        tenant_id: Set(tenant_id.into()),
        id: Set(id.clone()),
        product_id: Set(product_id.into()),
        status: Set("running".into()),
        total: Set(total),
        processed: Set(0),
        imported: Set(0),
        duplicate: Set(0),
        invalid: Set(0),
        blank_lines: Set(blank_lines),
        problems: Set("[]".into()),
        error: Set(None),
        created_at: Set(now),
        updated_at: Set(now),
    })
    .exec_without_returning(conn)
    .await?;
    Ok(id)
}

/// Progress so far.
#[derive(Debug, Clone, Default)]
pub struct ImportProgress {
    pub processed: i64,
    pub imported: i64,
    pub duplicate: i64,
    pub invalid: i64,
    pub problems: Vec<Problem>,
}

/// Records progress; `status` is `running`, `done` or `failed`.
pub async fn update_key_import_for_tenant<C: ConnectionTrait>(
    conn: &C,
    tenant_id: &str,
    import_id: &str,
    status: &str,
    p: &ImportProgress,
    error: Option<&str>,
) -> Result<(), DbErr> {
    let problems = serde_json::to_string(&p.problems).unwrap_or_else(|_| "[]".into());
    key_imports::Entity::update_many()
        .col_expr(key_imports::Column::Status, Expr::value(status))
        .col_expr(key_imports::Column::Processed, Expr::value(p.processed))
        .col_expr(key_imports::Column::Imported, Expr::value(p.imported))
        .col_expr(key_imports::Column::Duplicate, Expr::value(p.duplicate))
        .col_expr(key_imports::Column::Invalid, Expr::value(p.invalid))
        .col_expr(key_imports::Column::Problems, Expr::value(problems))
        .col_expr(key_imports::Column::Error, Expr::value(error.map(str::to_string)))
        .col_expr(key_imports::Column::UpdatedAt, Expr::value(Utc::now()))
        .filter(key_imports::Column::TenantId.eq(tenant_id))
        .filter(key_imports::Column::Id.eq(import_id))
        .exec(conn)
        .await?;
    Ok(())
}

pub async fn find_key_import_for_tenant<C: ConnectionTrait>(
    conn: &C,
    tenant_id: &str,
    import_id: &str,
) -> Result<Option<key_imports::Model>, DbErr> {
    key_imports::Entity::find_by_id((tenant_id.to_string(), import_id.to_string())).one(conn).await
}

/// The latest imports of a product.
pub async fn list_key_imports_of_product_for_tenant<C: ConnectionTrait>(
    conn: &C,
    tenant_id: &str,
    product_id: &str,
    limit: u64,
) -> Result<Vec<key_imports::Model>, DbErr> {
    key_imports::Entity::find()
        .filter(key_imports::Column::TenantId.eq(tenant_id))
        .filter(key_imports::Column::ProductId.eq(product_id))
        .order_by_desc(key_imports::Column::Id)
        .limit(limit)
        .all(conn)
        .await
}

/// The state to show: a running import that stopped moving is `interrupted`.
pub fn effective_status(m: &key_imports::Model, now: DateTime<Utc>) -> &str {
    if m.status == "running" && (now - m.updated_at).num_seconds() > STALL_SECS { "interrupted" } else { &m.status }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_lines_with_bom_crlf_and_blanks() {
        let e = split_entries("\u{feff}AAA\r\n\r\n  BBB  \r\nCCC", Delimiter::Newline);
        let got: Vec<(u32, &str)> = e.iter().map(|e| (e.line, e.text.as_str())).collect();
        assert_eq!(got, vec![(1, "AAA"), (3, "BBB"), (4, "CCC")]);
    }

    #[test]
    fn splits_on_a_chosen_delimiter() {
        let e = split_entries("A1,A2,,A3\nB1", Delimiter::Comma);
        let got: Vec<(u32, &str)> = e.iter().map(|e| (e.line, e.text.as_str())).collect();
        assert_eq!(got, vec![(1, "A1"), (1, "A2"), (1, "A3"), (2, "B1")]);
        assert_eq!(Delimiter::parse("pipe"), Some(Delimiter::Pipe));
        assert_eq!(Delimiter::parse("bogus"), None);
    }
}
