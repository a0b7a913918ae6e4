//! Unit tests of the config: defaults, precedence, and errors that name the field.

use super::*;

#[test]
fn defaults_validate() {
    Config::default().validate().unwrap();
}

#[test]
fn flags_override_file() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("stampede.toml");
    std::fs::write(&file, "grab_rate_per_second = 5\nmax_in_flight = 7\n").unwrap();
    let args = ConfigArgs {
        config: Some(file),
        max_in_flight: Some(9),
        ..ConfigArgs::default()
    };
    let config = Config::load(args).unwrap();
    assert_eq!(config.grab_rate_per_second, 5);
    assert_eq!(config.max_in_flight, 9);
}

#[test]
fn errors_name_the_field() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("bad.toml");
    std::fs::write(&file, "grab_rate_persecond = 5\n").unwrap();
    let err = Config::load(ConfigArgs {
        config: Some(file),
        ..ConfigArgs::default()
    })
    .unwrap_err()
    .to_string();
    assert!(err.contains("grab_rate_persecond"), "{err}");
    let err = Config {
        max_in_flight: 0,
        ..Config::default()
    }
    .validate()
    .unwrap_err();
    assert!(err.to_string().contains("max_in_flight"), "{err}");
    let err = Config {
        token_secret: "short".into(),
        ..Config::default()
    }
    .validate()
    .unwrap_err();
    assert!(err.to_string().contains("token_secret"), "{err}");
}
