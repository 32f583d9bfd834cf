//! One result record per cell of the compatibility matrix (client × backend × feature), written by the tests
//! into `target/tmp/compat/`; `tests/backends/render_compat.py` turns them into `docs/compatibility.md`.

use std::path::PathBuf;

/// How a cell ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    Pass,
    Fail,
    /// A documented backend gap: the feature cannot work there; `detail` says what the client sees instead.
    Gap,
}

impl Outcome {
    fn as_str(self) -> &'static str {
        match self {
            Self::Pass => "pass",
            Self::Fail => "fail",
            Self::Gap => "gap",
        }
    }
}

pub fn dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/tmp/compat")
}

/// Write the record of one cell (replacing an earlier run's).
pub fn record(client: &str, backend: &str, feature: &str, outcome: Outcome, detail: &str) {
    let dir = dir();
    std::fs::create_dir_all(&dir).expect("compat dir");
    let name = format!("{client}__{backend}__{feature}.json").replace(['/', ' '], "_");
    let rec = serde_json::json!({
        "client": client,
        "backend": backend,
        "feature": feature,
        "outcome": outcome.as_str(),
        "detail": detail,
    });
    std::fs::write(dir.join(name), rec.to_string()).expect("writing a compat record");
}
