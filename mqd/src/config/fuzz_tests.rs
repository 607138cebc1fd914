//! Fuzz targets for the config parser, run as property tests: arbitrary text, and the default
//! config with one value replaced by a generated one (numbers of every size, units, wrong types) or
//! a line dropped, doubled or garbled. Parsing never panics; a refusal names a key in one line; an
//! accepted config passes validation and can be used (every duration fits a timer); and valid
//! settings written out as TOML read back as the same values.

use super::*;
use proptest::prelude::*;
use std::time::{Duration, Instant};

/// Every duration of a config, by key.
fn durations(config: &Config) -> [(&'static str, Duration); 9] {
    [
        ("node.shutdown_timeout", config.node.shutdown_timeout.0),
        ("log.retention", config.log.retention.0),
        (
            "log.retention_check_interval",
            config.log.retention_check_interval.0,
        ),
        ("topics.dedup_window", config.topics.dedup_window.0),
        ("limits.max_fetch_wait", config.limits.max_fetch_wait.0),
        (
            "groups.default_session_timeout",
            config.groups.default_session_timeout.0,
        ),
        (
            "groups.min_session_timeout",
            config.groups.min_session_timeout.0,
        ),
        (
            "groups.max_session_timeout",
            config.groups.max_session_timeout.0,
        ),
        (
            "groups.expiry_check_interval",
            config.groups.expiry_check_interval.0,
        ),
    ]
}

/// What must hold for any outcome of [`Config::parse`].
fn check_outcome(text: &str) -> Result<(), TestCaseError> {
    match Config::parse(text, "fuzz.toml") {
        Ok(config) => {
            prop_assert!(config.validate().is_ok());
            let now = Instant::now();
            for (key, duration) in durations(&config) {
                // Intervals, sleeps and session deadlines add these to the clock.
                prop_assert!(
                    now.checked_add(duration)
                        .and_then(|t| t.checked_add(duration))
                        .is_some(),
                    "{key} = {duration:?} was accepted but overflows a timer"
                );
            }
            prop_assert_eq!(Config::parse(text, "again").unwrap(), config);
        }
        Err(ConfigError::Invalid {
            origin,
            key,
            message,
        }) => {
            prop_assert_eq!(origin, "fuzz.toml");
            prop_assert!(!key.is_empty() && !message.is_empty());
            prop_assert!(!message.contains('\n'), "a multi-line message: {message}");
        }
        Err(other) => prop_assert!(false, "unexpected error {other}"),
    }
    Ok(())
}

/// A TOML value an operator might write, or get wrong.
fn value() -> impl Strategy<Value = String> {
    let number = prop_oneof![
        0u64..10,
        0u64..100_000,
        Just(u64::from(u32::MAX)),
        Just(u64::from(u32::MAX) + 1),
        Just(i64::MAX as u64),
        any::<u64>(),
    ];
    let unit = prop::sample::select(vec![
        "", "ns", "ms", "s", "m", "h", "d", "w", "y", "B", "KiB", "MiB", "GiB", "TiB", "EiB", "KB",
        "k", "x",
    ]);
    prop_oneof![
        any::<i64>().prop_map(|n| n.to_string()),
        number.clone().prop_map(|n| n.to_string()),
        (number, unit.clone()).prop_map(|(n, u)| format!("\"{n}{u}\"")),
        (any::<f64>(), unit).prop_map(|(n, u)| format!("\"{n}{u}\"")),
        any::<f64>().prop_map(|n| format!("{n:?}")),
        Just("true".to_owned()),
        Just("[]".to_owned()),
        Just("{}".to_owned()),
        Just("\"\"".to_owned()),
        "\"[ -~]{0,12}\"",
    ]
}

/// One change to the default config's text.
#[derive(Debug, Clone)]
enum Edit {
    Value { line: usize, value: String },
    Drop { line: usize },
    Double { line: usize },
    Garble { line: usize, text: String },
}

fn edit() -> impl Strategy<Value = Edit> {
    prop_oneof![
        4 => (any::<usize>(), value()).prop_map(|(line, value)| Edit::Value { line, value }),
        1 => any::<usize>().prop_map(|line| Edit::Drop { line }),
        1 => any::<usize>().prop_map(|line| Edit::Double { line }),
        1 => (any::<usize>(), "[ -~]{0,20}").prop_map(|(line, text)| Edit::Garble { line, text }),
    ]
}

fn apply(edits: &[Edit]) -> String {
    let mut lines: Vec<String> = DEFAULT_CONFIG_TOML.lines().map(str::to_owned).collect();
    let settings: Vec<usize> = (0..lines.len())
        .filter(|&i| lines[i].contains(" = ") && !lines[i].starts_with('#'))
        .collect();
    for edit in edits {
        match edit {
            Edit::Value { line, value } => {
                let at = settings[line % settings.len()];
                let key = lines[at].split(" = ").next().unwrap().to_owned();
                lines[at] = format!("{key} = {value}");
            }
            Edit::Drop { line } => {
                let at = line % lines.len();
                lines[at].clear();
            }
            Edit::Double { line } => {
                let copy = lines[line % lines.len()].clone();
                lines.push(copy);
            }
            Edit::Garble { line, text } => {
                let at = line % lines.len();
                lines[at] = text.clone();
            }
        }
    }
    lines.join("\n")
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1024))]

    #[test]
    fn arbitrary_text_never_panics(text in "(\\PC|\n){0,200}") {
        check_outcome(&text)?;
    }

    #[test]
    fn arbitrary_key_values_never_panic(
        section in prop::sample::select(vec!["node", "log", "topics", "limits", "groups", "logging", "x"]),
        key in "[a-z_]{1,24}",
        value in value(),
    ) {
        check_outcome(&format!("[{section}]\n{key} = {value}\n"))?;
    }

    #[test]
    fn edited_default_config_is_refused_with_a_key_or_usable(edits in prop::collection::vec(edit(), 1..4)) {
        check_outcome(&apply(&edits))?;
    }

    #[test]
    fn valid_settings_read_back_as_written(
        segment in 1024u64..=u64::from(u32::MAX),
        retention_ms in 0u64..100 * 365 * 24 * 3600 * 1000,
        partitions in 1u32..=1024,
        memory_mib in 1u64..1 << 20,
        max_fetch_wait_ms in 0u64..3_600_000,
        sessions in (1u64..1000, 1u64..1000, 1u64..1000),
    ) {
        let mut bounds = [sessions.0, sessions.1, sessions.2];
        bounds.sort_unstable();
        let text = format!(
            "[log]\nsegment_bytes = {segment}\nretention = \"{retention_ms}ms\"\n\
             [topics]\ndefault_partitions = {partitions}\n\
             [limits]\nmemory = \"{memory_mib}MiB\"\nmax_fetch_wait = \"{max_fetch_wait_ms}ms\"\n\
             [groups]\nmin_session_timeout = \"{}s\"\ndefault_session_timeout = \"{}s\"\nmax_session_timeout = \"{}s\"\n",
            bounds[0], bounds[1], bounds[2],
        );
        let config = Config::parse(&text, "t").unwrap();
        prop_assert_eq!(config.log.segment_bytes, ByteSize(segment));
        prop_assert_eq!(config.log.retention.as_millis(), retention_ms);
        prop_assert_eq!(config.topics.default_partitions, partitions);
        prop_assert_eq!(config.limits.memory, MemoryLimit::Fixed(ByteSize::mib(memory_mib)));
        prop_assert_eq!(config.limits.max_fetch_wait.as_millis(), max_fetch_wait_ms);
        prop_assert_eq!(config.groups.default_session_timeout.0, Duration::from_secs(bounds[1]));
        check_outcome(&text)?;
    }
}
