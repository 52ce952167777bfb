//! A theme's `manifest.toml`: name, title, description, preview image, the
//! theme it takes missing templates from, and its settings schema. A
//! shop's stored settings are checked against the schema; anything missing
//! or invalid reads as the default, so a theme update never breaks a shop.

use std::collections::BTreeMap;

use serde::Deserialize;

#[derive(Debug, Clone, Deserialize)]
pub struct Manifest {
    pub name: String,
    pub title: String,
    pub description: String,
    pub preview: String,
    #[serde(default)]
    pub extends: Option<String>,
    #[serde(default)]
    pub settings: Vec<SettingSpec>,
}

/// One setting a merchant can change.
#[derive(Debug, Clone, Deserialize)]
pub struct SettingSpec {
    pub key: String,
    pub label: String,
    pub kind: SettingKind,
    /// Choices of a `select`.
    #[serde(default)]
    pub options: Vec<String>,
    pub default: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SettingKind {
    /// `#rrggbb`.
    Color,
    /// One of `options`.
    Select,
    /// `true` or `false`.
    Bool,
}

/// A value a setting may take, as text (`None`: not acceptable).
fn accept(spec: &SettingSpec, raw: &str) -> Option<String> {
    let raw = raw.trim();
    match spec.kind {
        SettingKind::Color => {
            (raw.len() == 7 && raw.starts_with('#') && raw[1..].bytes().all(|b| b.is_ascii_hexdigit()))
                .then(|| raw.to_ascii_lowercase())
        }
        SettingKind::Select => spec.options.iter().any(|o| o == raw).then(|| raw.to_string()),
        SettingKind::Bool => match raw {
            "true" | "on" | "1" => Some("true".into()),
            "false" | "off" | "0" | "" => Some("false".into()),
            _ => None,
        },
    }
}

impl Manifest {
    pub fn parse(text: &str) -> Result<Self, toml::de::Error> {
        toml::from_str(text)
    }

    /// Every setting's value for a shop: what it stored, where valid, else the default.
    pub fn resolve(&self, stored: &BTreeMap<String, String>) -> BTreeMap<String, String> {
        self.settings
            .iter()
            .map(|s| {
                let v = stored.get(&s.key).and_then(|v| accept(s, v)).unwrap_or_else(|| s.default.clone());
                (s.key.clone(), v)
            })
            .collect()
    }

    /// Checks settings as a merchant submitted them (unknown keys ignored; a
    /// missing bool is `false`, as an unticked checkbox sends nothing).
    pub fn validate(&self, input: &BTreeMap<String, String>) -> Result<BTreeMap<String, String>, Vec<String>> {
        let mut out = BTreeMap::new();
        let mut errors = Vec::new();
        for s in &self.settings {
            let raw =
                input.get(&s.key).map(String::as_str).unwrap_or(if s.kind == SettingKind::Bool { "false" } else { "" });
            match accept(s, raw) {
                Some(v) => {
                    out.insert(s.key.clone(), v);
                }
                None => errors.push(match s.kind {
                    SettingKind::Color => format!(
                        "「{}」需为 #rrggbb 颜色，例如 #2563eb。{} must be a colour like #2563eb.",
                        s.label, s.label
                    ),
                    SettingKind::Select => format!(
                        "「{}」只能是 {}。{} must be one of {}.",
                        s.label,
                        s.options.join(" / "),
                        s.label,
                        s.options.join(", ")
                    ),
                    SettingKind::Bool => format!("「{}」只能是开或关。{} must be on or off.", s.label, s.label),
                }),
            }
        }
        if errors.is_empty() { Ok(out) } else { Err(errors) }
    }
}

/// The CSS custom properties of resolved settings (colours only).
pub fn settings_css(manifest: &Manifest, values: &BTreeMap<String, String>) -> String {
    let vars: String = manifest
        .settings
        .iter()
        .filter(|s| s.kind == SettingKind::Color)
        .filter_map(|s| values.get(&s.key).map(|v| format!("--{}:{v};", s.key)))
        .collect();
    if vars.is_empty() { String::new() } else { format!(":root{{{vars}}}\n") }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn grid() -> Manifest {
        Manifest::parse(include_str!("../grid/manifest.toml")).expect("grid manifest")
    }

    #[test]
    fn stored_settings_fall_back_to_defaults_when_invalid() {
        let m = grid();
        let stored: BTreeMap<String, String> =
            [("accent", "#ABCDEF"), ("columns", "9"), ("corners", "square")].map(|(k, v)| (k.into(), v.into())).into();
        let r = m.resolve(&stored);
        assert_eq!(r["accent"], "#abcdef");
        assert_eq!(r["columns"], "3");
        assert_eq!(r["corners"], "square");
        assert_eq!(r["show_stock"], "true");
    }

    #[test]
    fn submitted_settings_name_every_bad_field() {
        let m = grid();
        let input: BTreeMap<String, String> = [("accent", "red;}body{x"), ("columns", "7"), ("corners", "rounded")]
            .map(|(k, v)| (k.into(), v.into()))
            .into();
        let errs = m.validate(&input).expect_err("bad");
        assert_eq!(errs.len(), 2, "{errs:?}");
        assert!(errs[0].contains("#2563eb") && errs[1].contains("2, 3, 4"));
        let ok: BTreeMap<String, String> =
            [("accent", "#112233"), ("columns", "4"), ("corners", "square")].map(|(k, v)| (k.into(), v.into())).into();
        let v = m.validate(&ok).expect("ok");
        assert_eq!(v["show_stock"], "false");
        assert_eq!(settings_css(&m, &v), ":root{--accent:#112233;}\n");
    }
}
