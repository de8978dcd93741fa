//! Fuzz-style test of the config parser and the `--set` override parser, on the stable
//! toolchain: generated TOML (every key, unknown keys, extreme numbers, wrong types, deep
//! nesting), mutations of the shipped `configs/*.toml`, and generated overrides, fed to
//! `Config::from_toml_with` (what `from_file_with` and `brunel run --set` call).
//!
//! Asserted for every case: no panic (caught with `catch_unwind`); a rejection is either a
//! TOML syntax error with its position, or a message that names a key (a `Config` error's key
//! is one of the config's keys; a type or unknown-field error names it in backticks; an
//! override's error names the override). An accepted config serialises and reads back to
//! itself, and its model and memory plan can be made.
//!
//! `BRUNEL_FUZZ_CASES` sets the number of cases (default 100 000), `BRUNEL_FUZZ_SEED` the
//! generator's seed (default 1). The case count is printed, and appended as
//! `passed<TAB>fuzz<TAB>config<TAB>N cases` to the file `BRUNEL_TEST_LOG` names, if set. The
//! cargo-fuzz target in `fuzz/` runs the same oracle under libFuzzer where a nightly
//! toolchain exists.

mod fuzz_oracle;

use brunel_core::Config;
use fuzz_oracle::{judge, KEYS};
use rand::{Rng, SeedableRng};
use rand_pcg::Pcg64;

const SHIPPED: &[&str] = &[
    include_str!("../../../configs/fig8_a.toml"),
    include_str!("../../../configs/fig8_b.toml"),
    include_str!("../../../configs/fig8_c.toml"),
    include_str!("../../../configs/fig8_d.toml"),
    include_str!("../../../configs/reference.toml"),
];

/// TOML values, from ordinary to hostile.
const VALUES: &[&str] = &[
    "0",
    "-0",
    "-0.0",
    "1",
    "-1",
    "2",
    "0.1",
    "1.5",
    "20",
    "20.0",
    "1e308",
    "-1e308",
    "1e-308",
    "5e-324",
    "1e-300",
    "1e30",
    "1e16",
    "inf",
    "-inf",
    "+inf",
    "nan",
    "-nan",
    "9223372036854775807",
    "-9223372036854775808",
    "18446744073709551615",
    "18446744073709551616",
    "4294967295",
    "4294967296",
    "0x7fffffff",
    "0o777",
    "0b1",
    "1_000",
    "true",
    "false",
    "\"all\"",
    "\"none\"",
    "\"first:50\"",
    "\"first:-1\"",
    "\"first:4294967296\"",
    "\"bernoulli\"",
    "\"fixed_indegree\"",
    "\"discard\"",
    "\"accumulate\"",
    "\"\"",
    "\"18446744073709551615\"",
    "\"-1\"",
    "\"\\u001b[31mred\"",
    "'literal'",
    "\"\"\"multi\nline\"\"\"",
    "[]",
    "[1, 2]",
    "[0.0, 1.0]",
    "[1000, 1200]",
    "[0.0, inf]",
    "[nan, 1.0]",
    "[1.0, 2.0, 3.0]",
    "[[1.0, 2.0]]",
    "[\"a\", 1]",
    "{}",
    "{ a = 1 }",
    "1979-05-27T07:32:00Z",
    "07:32:00",
];

const SECTIONS: &[&str] = &[
    "network",
    "neuron",
    "synapse",
    "input",
    "simulation",
    "record",
    "plot",
];

fn pick<'a, T>(rng: &mut Pcg64, items: &'a [T]) -> &'a T {
    &items[rng.random_range(0..items.len())]
}

/// A value: from the list, a random number, or a long / deep one.
fn value(rng: &mut Pcg64) -> String {
    match rng.random_range(0..20) {
        0 => format!(
            "{}",
            rng.random::<f64>() * 10f64.powi(rng.random_range(-10..12))
        ),
        1 => format!("{}", rng.random::<i64>()),
        2 => format!("{}", rng.random_range(0..100_000u32)),
        3 => {
            let depth = rng.random_range(1..3000);
            format!("{}1{}", "[".repeat(depth), "]".repeat(depth))
        }
        4 => {
            let depth = rng.random_range(1..3000);
            format!("{}1{}", "{a=".repeat(depth), "}".repeat(depth))
        }
        5 => format!("\"{}\"", "x".repeat(rng.random_range(0..5000))),
        _ => pick(rng, VALUES).to_string(),
    }
}

/// A key: mostly a known one, else unknown, odd or empty.
fn key(rng: &mut Pcg64) -> (String, String) {
    let (s, k) = pick(rng, KEYS).split_once('.').unwrap();
    match rng.random_range(0..12) {
        0 => (s.to_owned(), format!("{k}x")),
        1 => (pick(rng, SECTIONS).to_string(), "\"quoted key\"".to_owned()),
        2 => (format!("{s}s"), k.to_owned()),
        3 => (s.to_owned(), "k".repeat(rng.random_range(1..2000))),
        4 => (pick(rng, SECTIONS).to_string(), k.to_owned()),
        _ => (s.to_owned(), k.to_owned()),
    }
}

/// A random TOML document of sections and keys.
fn generated(rng: &mut Pcg64) -> String {
    let mut text = String::new();
    for _ in 0..rng.random_range(0..12) {
        let (s, k) = key(rng);
        let v = value(rng);
        match rng.random_range(0..6) {
            0 => text.push_str(&format!("{s}.{k} = {v}\n")),
            1 => text.push_str(&format!("{k} = {v}\n")),
            2 => text.push_str(&format!("[{s}.{k}]\nx = {v}\n")),
            3 => text.push_str(&format!("[[{s}]]\n{k} = {v}\n")),
            _ => text.push_str(&format!("[{s}]\n{k} = {v}\n")),
        }
    }
    if rng.random_range(0..50) == 0 {
        let depth = rng.random_range(1..200);
        let header: Vec<&str> = std::iter::repeat_n("a", depth).collect();
        text.push_str(&format!("[{}]\nb = 1\n", header.join(".")));
    }
    text
}

/// Bytes that matter to TOML's grammar.
const PUNCTUATION: &[u8] = b"[]{}=\".,'#\n\r\t -+_:0123456789einaf\\\x00\x1b\xff";

/// A shipped config with a few edits: bytes flipped, deleted, inserted, lines repeated or
/// swapped, a number replaced by an extreme one.
fn mutated(rng: &mut Pcg64) -> String {
    let mut bytes = pick(rng, SHIPPED).as_bytes().to_vec();
    for _ in 0..rng.random_range(1..6) {
        if bytes.is_empty() {
            break;
        }
        let at = rng.random_range(0..bytes.len());
        match rng.random_range(0..7) {
            0 => bytes[at] ^= 1 << rng.random_range(0..8),
            1 => {
                bytes.remove(at);
            }
            2 => bytes.insert(at, *pick(rng, PUNCTUATION)),
            3 => bytes[at] = *pick(rng, PUNCTUATION),
            4 => {
                // Repeat a line.
                let start = bytes[..at]
                    .iter()
                    .rposition(|&b| b == b'\n')
                    .map_or(0, |p| p + 1);
                let end = bytes[at..]
                    .iter()
                    .position(|&b| b == b'\n')
                    .map_or(bytes.len(), |p| at + p + 1);
                let line = bytes[start..end].to_vec();
                bytes.splice(end..end, line);
            }
            5 => {
                // Replace the number (or word) under `at` by a value.
                let is_token = |b: u8| b.is_ascii_alphanumeric() || b"._-+".contains(&b);
                let mut s = at;
                while s > 0 && is_token(bytes[s - 1]) {
                    s -= 1;
                }
                let mut e = at;
                while e < bytes.len() && is_token(bytes[e]) {
                    e += 1;
                }
                let v = value(rng).into_bytes();
                bytes.splice(s..e, v);
            }
            _ => {
                // Append a generated line.
                bytes.extend_from_slice(generated(rng).as_bytes());
            }
        }
    }
    String::from_utf8_lossy(&bytes).into_owned()
}

/// A `--set` override: mostly `section.key=value`, sometimes malformed.
fn an_override(rng: &mut Pcg64) -> String {
    let (s, k) = key(rng);
    let v = value(rng);
    match rng.random_range(0..14) {
        0 => format!("{s}.{k}"),
        1 => format!("{k}={v}"),
        2 => format!("{s}.{k}.x={v}"),
        3 => format!(".{k}={v}"),
        4 => format!("{s}={v}"),
        5 => format!("={v}"),
        6 => format!(" {s} . {k} = {v} "),
        7 => format!("{s}.{k}={}", &v[..v.len() / 2]),
        8 => format!("{s}.{k}=bare word"),
        _ => format!("{s}.{k}={v}"),
    }
}

fn env_u64(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(default)
}

#[test]
fn fuzzed_configs_and_overrides_never_panic_and_name_a_key() {
    let cases = env_u64("BRUNEL_FUZZ_CASES", 100_000);
    let seed = env_u64("BRUNEL_FUZZ_SEED", 1);
    let mut rng = Pcg64::seed_from_u64(seed);
    let mut failures: Vec<String> = Vec::new();
    let mut accepted = 0u64;
    let start = std::time::Instant::now();
    for case in 0..cases {
        let (text, overrides) = match case % 4 {
            0 => (generated(&mut rng), vec![]),
            1 => (mutated(&mut rng), vec![]),
            2 => (
                pick(&mut rng, SHIPPED).to_string(),
                (0..rng.random_range(1..4))
                    .map(|_| an_override(&mut rng))
                    .collect(),
            ),
            _ => (
                mutated(&mut rng),
                (0..rng.random_range(0..3))
                    .map(|_| an_override(&mut rng))
                    .collect(),
            ),
        };
        match judge(&text, &overrides) {
            None => {
                if Config::from_toml_with(&text, "fuzz", &overrides).is_ok() {
                    accepted += 1;
                }
            }
            Some(problem) => {
                if failures.len() < 10 {
                    let shown: String = text.chars().take(400).collect();
                    failures.push(format!(
                        "case {case}: {problem}\n  text: {shown:?}\n  overrides: {overrides:?}"
                    ));
                } else {
                    failures.push(String::new());
                }
            }
        }
    }
    let line = format!(
        "{cases} cases ({accepted} accepted, seed {seed}, {:.1} s)",
        start.elapsed().as_secs_f64()
    );
    eprintln!("fuzz config: {line}");
    brunel_testkit::log(
        if failures.is_empty() {
            "passed"
        } else {
            "failed"
        },
        "fuzz",
        "config",
        &format!("{cases} cases"),
    );
    assert!(
        failures.is_empty(),
        "{} of {cases} cases failed; the first:\n{}",
        failures.len(),
        failures
            .iter()
            .filter(|f| !f.is_empty())
            .cloned()
            .collect::<Vec<_>>()
            .join("\n")
    );
}
