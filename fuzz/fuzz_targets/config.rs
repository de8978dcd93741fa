//! libFuzzer target: the config parser and the `--set` override parser. The input is UTF-8
//! text; its leading lines that start with `--set ` are overrides (`--set synapse.g=6`), the
//! rest is the TOML file. The oracle is the stable suite's (no panic; a rejection names a key
//! or is a TOML syntax error with its position; an accepted config is in range and reads
//! back to itself).
#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "../../crates/brunel-core/tests/fuzz_oracle/mod.rs"]
mod oracle;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let mut overrides = Vec::new();
    let mut rest = text;
    while let Some(line) = rest.strip_prefix("--set ") {
        let (o, tail) = line.split_once('\n').unwrap_or((line, ""));
        overrides.push(o.to_owned());
        rest = tail;
    }
    if let Some(problem) = oracle::judge(rest, &overrides) {
        panic!("{problem}\ntext: {rest:?}\noverrides: {overrides:?}");
    }
});
