//! `ara config`: prints [`super::config_report`]; a configuration that does not load is reported
//! with the source of the bad value.

use std::path::Path;

use super::config_report::{self, ReportError};

/// Exit code 0, or 2 when the configuration does not load.
pub fn run(file: Option<&Path>, json: bool) -> i32 {
    match config_report::report(file) {
        Ok(entries) => {
            let out =
                if json { config_report::render_json(&entries) } else { config_report::render_text(&entries, file) };
            println!("{}", out.trim_end());
            0
        }
        Err(ReportError { error, source }) => {
            match source {
                Some(source) => eprintln!("ara: {error} (set by {})", source.label()),
                None => eprintln!("ara: {error}"),
            }
            2
        }
    }
}
