//! Every setting from an environment variable: `S3_SSE_PROXY_<SECTION>_<FIELD>` (`S3_SSE_PROXY_LISTEN`,
//! `S3_SSE_PROXY_BACKEND_ENDPOINT`, `S3_SSE_PROXY_LIMITS_MAX_CONNECTIONS`), merged into the file's TOML before it
//! is deserialized, so a container needs no file.
//!
//! The list of variables is not written by hand: [`settings`] walks [`Config`]'s own `Deserialize` impl with a
//! probing deserializer that learns each table's field names and each field's type, so a field added to
//! `config.rs` has its variable at once, typed (an integer field takes `4096`, a string field takes `0001`
//! as text). Arrays and tables (`[[credentials]]`) take a TOML literal. A value is never logged or echoed in an
//! error: the variable may hold a secret.

use std::cell::RefCell;
use std::fmt;

use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, Visitor};

use super::Config;

/// The prefix of every variable.
pub const PREFIX: &str = "S3_SSE_PROXY_";

/// What a setting's variable holds, as the schema types it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Kind {
    String,
    Integer,
    Boolean,
    /// A string naming one of these variants.
    OneOf(Vec<&'static str>),
    /// A TOML array literal, e.g. `["a", "b"]` or `[{ access_key_id = "…", secret_access_key = "…" }]`.
    Array,
    /// Anything else (a map): a TOML inline-table literal.
    Toml,
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Kind::String => f.write_str("string"),
            Kind::Integer => f.write_str("integer"),
            Kind::Boolean => f.write_str("true/false"),
            Kind::OneOf(v) => f.write_str(&v.join(" / ")),
            Kind::Array => f.write_str("TOML array"),
            Kind::Toml => f.write_str("TOML inline table"),
        }
    }
}

/// One setting: its place in the file (`["limits", "max_connections"]`) and its type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Setting {
    pub path: Vec<&'static str>,
    pub kind: Kind,
}

impl Setting {
    /// `S3_SSE_PROXY_LIMITS_MAX_CONNECTIONS`.
    pub fn var(&self) -> String {
        format!("{PREFIX}{}", self.path.join("_").to_ascii_uppercase())
    }
    /// `limits.max_connections`.
    pub fn key(&self) -> String {
        self.path.join(".")
    }
}

/// Every setting of [`Config`], in the order of its fields (tables expanded to their fields).
pub fn settings() -> Vec<Setting> {
    let mut out = Vec::new();
    walk(&mut Vec::new(), &mut out);
    out
}

fn walk(path: &mut Vec<&'static str>, out: &mut Vec<Setting>) {
    match probe(path) {
        Probed::Table(fields) => {
            for f in fields {
                path.push(f);
                walk(path, out);
                path.pop();
            }
        }
        Probed::Leaf(kind) => out.push(Setting {
            path: path.clone(),
            kind,
        }),
    }
}

/// Why the environment could not be used. Names the variable, never its value.
#[derive(Debug, thiserror::Error)]
#[error("environment variable {var}: {why}")]
pub struct EnvError {
    pub var: String,
    pub why: String,
}

/// Merges into `table` every variable of `vars` that names a setting; returns the names of those applied.
/// Other variables (`S3_SSE_PROXY_LOG`, the quick start's `S3_SSE_PROXY_ACCESS_KEY_ID`, anything else) are
/// left alone.
pub fn merge(
    table: &mut toml::Table,
    vars: impl IntoIterator<Item = (String, String)>,
) -> Result<Vec<String>, EnvError> {
    let settings = settings();
    let mut applied = Vec::new();
    // An empty variable is taken as unset, as container templates leave them.
    let mut vars: Vec<_> = vars
        .into_iter()
        .filter(|(k, v)| k.starts_with(PREFIX) && !v.is_empty())
        .collect();
    vars.sort();
    for (var, raw) in vars {
        let Some(s) = settings.iter().find(|s| s.var() == var) else {
            continue;
        };
        let err = |why: &str| EnvError {
            var: var.clone(),
            why: why.to_owned(),
        };
        let value = match &s.kind {
            Kind::String => toml::Value::String(raw),
            Kind::OneOf(variants) => {
                if !variants.contains(&raw.as_str()) {
                    return Err(err(&format!("must be one of {}", variants.join(", "))));
                }
                toml::Value::String(raw)
            }
            Kind::Integer => toml::Value::Integer(raw.trim().parse().map_err(|_| err("must be an integer"))?),
            Kind::Boolean => toml::Value::Boolean(match raw.trim() {
                "true" => true,
                "false" => false,
                _ => return Err(err("must be true or false")),
            }),
            Kind::Array | Kind::Toml => {
                let mut t: toml::Table =
                    toml::from_str(&format!("v = {raw}")).map_err(|_| err(&format!("must be a {}", s.kind)))?;
                t.remove("v").expect("parsed above")
            }
        };
        let (last, parents) = s.path.split_last().expect("a setting has a path");
        let mut at = &mut *table;
        for p in parents {
            let entry = at
                .entry((*p).to_owned())
                .or_insert_with(|| toml::Value::Table(toml::Table::new()));
            at = entry
                .as_table_mut()
                .ok_or_else(|| err(&format!("the file's {p} is not a table")))?;
        }
        at.insert((*last).to_owned(), value);
        applied.push(var);
    }
    Ok(applied)
}

/// The README's table of every variable (between its `env-table` markers; a unit test keeps the two equal).
pub fn markdown_table() -> String {
    let mut t = String::from("| Variable | Setting | Value |\n|---|---|---|\n");
    for s in settings() {
        t.push_str(&format!("| `{}` | `{}` | {} |\n", s.var(), s.key(), s.kind));
    }
    t
}

// ---- The probe: a deserializer that answers Config's Deserialize impl just enough to learn its shape. ----

enum Probed {
    Table(&'static [&'static str]),
    Leaf(Kind),
}

/// Runs `Config::deserialize` down `path`: at each table the probe offers only the next field of the path;
/// at the end it records what the field asked for and stops the run with an error.
fn probe(path: &[&'static str]) -> Probed {
    let found = RefCell::new(None);
    let _ = <Config as de::Deserialize>::deserialize(Probe { path, found: &found });
    found
        .into_inner()
        .unwrap_or_else(|| panic!("config field {path:?} has a type the environment probe does not know"))
}

#[derive(Debug)]
struct Stop;

impl fmt::Display for Stop {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("probe stopped")
    }
}
impl std::error::Error for Stop {}
impl de::Error for Stop {
    fn custom<T: fmt::Display>(_: T) -> Self {
        Stop
    }
}

struct Probe<'a> {
    path: &'a [&'static str],
    found: &'a RefCell<Option<Probed>>,
}

impl Probe<'_> {
    fn leaf<T>(self, kind: Kind) -> Result<T, Stop> {
        if self.path.is_empty() {
            *self.found.borrow_mut() = Some(Probed::Leaf(kind));
        }
        Err(Stop)
    }
}

macro_rules! leaves {
    ($kind:expr => $($m:ident),*) => {$(
        fn $m<V: Visitor<'de>>(self, _: V) -> Result<V::Value, Stop> {
            self.leaf($kind)
        }
    )*};
}

impl<'de> Deserializer<'de> for Probe<'_> {
    type Error = Stop;

    leaves!(Kind::String => deserialize_str, deserialize_string, deserialize_char, deserialize_bytes,
        deserialize_byte_buf, deserialize_identifier);
    leaves!(Kind::Integer => deserialize_u8, deserialize_u16, deserialize_u32, deserialize_u64, deserialize_i8,
        deserialize_i16, deserialize_i32, deserialize_i64, deserialize_u128, deserialize_i128);
    leaves!(Kind::Boolean => deserialize_bool);
    leaves!(Kind::Array => deserialize_seq);
    leaves!(Kind::Toml => deserialize_any, deserialize_map, deserialize_f32, deserialize_f64, deserialize_unit,
        deserialize_ignored_any);

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Stop> {
        visitor.visit_some(self)
    }
    fn deserialize_newtype_struct<V: Visitor<'de>>(self, _: &'static str, visitor: V) -> Result<V::Value, Stop> {
        visitor.visit_newtype_struct(self)
    }
    fn deserialize_unit_struct<V: Visitor<'de>>(self, _: &'static str, _: V) -> Result<V::Value, Stop> {
        self.leaf(Kind::Toml)
    }
    fn deserialize_tuple<V: Visitor<'de>>(self, _: usize, _: V) -> Result<V::Value, Stop> {
        self.leaf(Kind::Array)
    }
    fn deserialize_tuple_struct<V: Visitor<'de>>(self, _: &'static str, _: usize, _: V) -> Result<V::Value, Stop> {
        self.leaf(Kind::Array)
    }
    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _: &'static str,
        variants: &'static [&'static str],
        _: V,
    ) -> Result<V::Value, Stop> {
        self.leaf(Kind::OneOf(variants.to_vec()))
    }
    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _: &'static str,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Stop> {
        let Some((next, rest)) = self.path.split_first() else {
            *self.found.borrow_mut() = Some(Probed::Table(fields));
            return Err(Stop);
        };
        visitor.visit_map(OneField {
            key: Some(next),
            value: Probe {
                path: rest,
                found: self.found,
            },
        })
    }
}

/// A table holding one field, whose value is the probe one level down.
struct OneField<'a> {
    key: Option<&'static str>,
    value: Probe<'a>,
}

impl<'de, 'a> MapAccess<'de> for OneField<'a> {
    type Error = Stop;

    fn next_key_seed<K: DeserializeSeed<'de>>(&mut self, seed: K) -> Result<Option<K::Value>, Stop> {
        match self.key.take() {
            Some(k) => seed.deserialize(de::value::BorrowedStrDeserializer::new(k)).map(Some),
            None => Ok(None),
        }
    }
    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, Stop> {
        seed.deserialize(Probe {
            path: self.value.path,
            found: self.value.found,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn find(var: &str) -> Setting {
        settings()
            .into_iter()
            .find(|s| s.var() == var)
            .unwrap_or_else(|| panic!("no setting {var}"))
    }

    #[test]
    fn every_field_of_the_config_has_a_typed_variable() {
        assert_eq!(find("S3_SSE_PROXY_LISTEN").kind, Kind::String);
        assert_eq!(find("S3_SSE_PROXY_LIMITS_MAX_CONNECTIONS").kind, Kind::Integer);
        assert_eq!(find("S3_SSE_PROXY_S3_SIGV2").kind, Kind::Boolean);
        assert_eq!(
            find("S3_SSE_PROXY_BACKEND_KIND").kind,
            Kind::OneOf(vec!["embedded", "s3"])
        );
        assert_eq!(find("S3_SSE_PROXY_BACKEND_SECRET_ACCESS_KEY").kind, Kind::String);
        assert_eq!(find("S3_SSE_PROXY_CREDENTIALS").kind, Kind::Array);
        assert_eq!(find("S3_SSE_PROXY_S3_VIRTUAL_HOST_DOMAINS").kind, Kind::Array);
        let all = settings();
        let mut vars: Vec<_> = all.iter().map(Setting::var).collect();
        vars.sort();
        vars.dedup();
        assert_eq!(vars.len(), all.len(), "two settings share a variable name");
        // The quick start's own variables are not settings (they would clash with the credentials table).
        for quick in [
            "S3_SSE_PROXY_ACCESS_KEY_ID",
            "S3_SSE_PROXY_SECRET_ACCESS_KEY",
            "S3_SSE_PROXY_LOG",
        ] {
            assert!(!vars.iter().any(|v| v == quick), "{quick}");
        }
    }

    fn merged(file: &str, vars: &[(&str, &str)]) -> Result<Config, String> {
        let mut table: toml::Table = toml::from_str(file).map_err(|e| e.to_string())?;
        merge(&mut table, vars.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))).map_err(|e| e.to_string())?;
        toml::Value::Table(table)
            .try_into()
            .map_err(|e: toml::de::Error| e.to_string())
    }

    #[test]
    fn variables_override_and_complete_the_file_typed_by_the_schema() {
        let c = merged(
            "listen = \"127.0.0.1:1\"\n[backend]\nkind = \"embedded\"\n[limits]\nmax_connections = 5\n",
            &[
                ("S3_SSE_PROXY_LISTEN", "0.0.0.0:8443"),
                ("S3_SSE_PROXY_BACKEND_KIND", "s3"),
                ("S3_SSE_PROXY_BACKEND_ENDPOINT", "http://127.0.0.1:9000"),
                ("S3_SSE_PROXY_LIMITS_MAX_CONNECTIONS", "100"),
                ("S3_SSE_PROXY_S3_ACCOUNT_ID", "000000000042"),
                ("S3_SSE_PROXY_S3_SIGV2", "false"),
                (
                    "S3_SSE_PROXY_CREDENTIALS",
                    "[{ access_key_id = \"AK\", secret_access_key = \"SK\" }]",
                ),
                ("S3_SSE_PROXY_LOG", "debug"),
            ],
        )
        .unwrap();
        assert_eq!(c.listen.to_string(), "0.0.0.0:8443");
        assert_eq!(c.backend.kind, super::super::BackendKind::S3);
        assert_eq!(c.backend.endpoint.as_deref(), Some("http://127.0.0.1:9000"));
        assert_eq!(c.limits.max_connections, 100);
        assert_eq!(
            c.limits.max_header_bytes,
            16 * 1024,
            "the rest of [limits] keeps its defaults"
        );
        assert_eq!(c.s3.account_id, "000000000042", "a digit string stays a string");
        assert!(!c.s3.sigv2);
        assert_eq!(c.credentials[0].access_key_id, "AK");
        // With no file at all, the variables alone make a config.
        let c = merged("", &[("S3_SSE_PROXY_BACKEND_KIND", "embedded")]).unwrap();
        assert_eq!(c.backend.kind, super::super::BackendKind::Embedded);
    }

    #[test]
    fn the_readme_lists_every_variable() {
        let readme = include_str!("../../README.md");
        let (start, end) = ("<!-- env-table:start -->\n", "<!-- env-table:end -->");
        let table = readme
            .split_once(start)
            .and_then(|(_, rest)| rest.split_once(end))
            .map(|(t, _)| t);
        assert_eq!(
            table,
            Some(markdown_table().as_str()),
            "README.md's table of environment variables is stale; between its env-table markers put:\n{}",
            markdown_table()
        );
    }

    #[test]
    fn a_bad_value_names_the_variable_and_never_echoes_the_value() {
        for (var, value) in [
            ("S3_SSE_PROXY_LIMITS_MAX_CONNECTIONS", "many-secret"),
            ("S3_SSE_PROXY_S3_SIGV2", "yes-secret"),
            ("S3_SSE_PROXY_BACKEND_KIND", "ceph-secret"),
            ("S3_SSE_PROXY_CREDENTIALS", "[{ secret"),
        ] {
            let e = merged("[backend]\n", &[(var, value)]).unwrap_err();
            assert!(e.contains(var), "{e}");
            assert!(!e.contains("secret"), "{e}");
        }
    }
}
