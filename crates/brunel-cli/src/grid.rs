//! The `--grid` syntax shared by `brunel theory` (and `brunel sweep`): axes over config keys
//! and the points of their product.
//!
//! ```text
//! --grid KEY=START:STOP:STEP    START, START+STEP, ... up to STOP (inclusive when STOP lies on
//!                               the grid, to 1e-9 of a step); a negative STEP counts down
//! --grid KEY=v1,v2,...          the listed values (TOML values, a bare word is a string)
//! ```
//!
//! `KEY` is any config key (`synapse.g`, `input.ratio`, `network.connectivity`...). The first
//! axis varies slowest. Values of a range are rounded to the decimals written in START and
//! STEP (`0:8:0.05` gives 0.15, not 0.15000000000000002).

use std::fmt;

/// One axis: a config key and its values.
#[derive(Debug, Clone, PartialEq)]
pub struct Axis {
    /// The dotted config key it varies (`synapse.g`), as `--set` takes it.
    pub key: String,
    /// Its values in order, as TOML values: numbers of a range rounded to the decimals of
    /// START and STEP, listed values as written (a bare word a string).
    pub values: Vec<toml::Value>,
}

/// Why a grid specification was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GridError(pub String);

impl fmt::Display for GridError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for GridError {}

/// Most points a range may have (a typo such as a step of 1e-9 would otherwise allocate without
/// end).
pub const MAX_AXIS_POINTS: usize = 1_000_000;

impl Axis {
    /// The values as numbers, if they all are.
    pub fn numbers(&self) -> Option<Vec<f64>> {
        self.values
            .iter()
            .map(|v| match v {
                toml::Value::Float(x) => Some(*x),
                toml::Value::Integer(i) => Some(*i as f64),
                _ => None,
            })
            .collect()
    }

    /// The `--set` override that puts value `i` on this axis.
    pub fn assignment(&self, i: usize) -> String {
        format!("{}={}", self.key, self.values[i])
    }
}

/// Parses one `--grid` specification.
pub fn parse_axis(spec: &str) -> Result<Axis, GridError> {
    let err = |m: String| GridError(format!("--grid `{spec}`: {m}"));
    let (key, rest) = spec
        .split_once('=')
        .ok_or_else(|| err("expected KEY=START:STOP:STEP or KEY=v1,v2,...".into()))?;
    let key = key.trim();
    let parts: Vec<&str> = key.split('.').collect();
    if parts.len() != 2 || parts.iter().any(|p| p.is_empty()) {
        return Err(err(format!(
            "the key `{key}` must be `section.key`, e.g. `synapse.g`"
        )));
    }
    let rest = rest.trim();
    if rest.is_empty() {
        return Err(err("no values".into()));
    }
    // A quoted or bracketed value may hold a colon (`plot.title="12:30"`): a list, not a range.
    let values = if rest.contains(':') && !rest.contains([',', '"', '\'', '[', '{']) {
        range(rest).map_err(err)?
    } else {
        list(rest).map_err(err)?
    };
    Ok(Axis {
        key: key.to_owned(),
        values,
    })
}

fn number(s: &str, what: &str) -> Result<f64, String> {
    let x: f64 = s
        .trim()
        .parse()
        .map_err(|_| format!("{what} `{}` is not a number", s.trim()))?;
    if !x.is_finite() {
        return Err(format!("{what} `{}` is not a finite number", s.trim()));
    }
    Ok(x)
}

/// Decimals written after the point (None for exponent notation).
fn decimals(s: &str) -> Option<u32> {
    let s = s.trim();
    if s.contains(['e', 'E']) {
        return None;
    }
    Some(s.split_once('.').map_or(0, |(_, d)| d.len() as u32))
}

fn range(text: &str) -> Result<Vec<toml::Value>, String> {
    let parts: Vec<&str> = text.split(':').collect();
    if parts.len() != 3 {
        return Err("a range is START:STOP:STEP".into());
    }
    let start = number(parts[0], "START")?;
    let stop = number(parts[1], "STOP")?;
    let step = number(parts[2], "STEP")?;
    if step == 0.0 {
        return Err("the step is zero".into());
    }
    let span = (stop - start) / step;
    if span < -1e-9 {
        return Err(format!(
            "the range is empty: {start} to {stop} by {step} never reaches {stop}"
        ));
    }
    let n = (span + 1e-9).floor() + 1.0;
    if n > MAX_AXIS_POINTS as f64 {
        return Err(format!("{n} points; at most {MAX_AXIS_POINTS} per axis"));
    }
    let places = match (decimals(parts[0]), decimals(parts[2])) {
        (Some(a), Some(b)) => Some(a.max(b).min(15)),
        _ => None,
    };
    // START and STEP written without a point: whole numbers (STOP may be anything).
    let integral = places == Some(0) && [start, step].iter().all(|x| x.abs() < 9.0e15);
    Ok((0..n as usize)
        .map(|i| {
            let x = start + i as f64 * step;
            let x = match places {
                Some(p) => {
                    let scale = 10f64.powi(p as i32);
                    (x * scale).round() / scale
                }
                None => x,
            };
            if integral {
                // Whole numbers stay integers: `simulation.seed=1:4:1` is a u64 key.
                toml::Value::Integer(x as i64)
            } else {
                toml::Value::Float(x)
            }
        })
        .collect())
}

/// The items of a list, split at the commas outside quoted strings, arrays and inline tables
/// (`"a,b",[1,2]` is two items). An unterminated quote or bracket runs to the end of the text,
/// so that its item is refused as no TOML value.
fn split_items(text: &str) -> Vec<&str> {
    let mut items = Vec::new();
    let (mut start, mut depth, mut quote, mut escaped) = (0, 0usize, None, false);
    for (i, c) in text.char_indices() {
        match quote {
            Some(q) => {
                if escaped {
                    escaped = false;
                } else if c == '\\' && q == '"' {
                    escaped = true;
                } else if c == q {
                    quote = None;
                }
            }
            None => match c {
                '"' | '\'' => quote = Some(c),
                '[' | '{' => depth += 1,
                ']' | '}' => depth = depth.saturating_sub(1),
                ',' if depth == 0 => {
                    items.push(&text[start..i]);
                    start = i + 1;
                }
                _ => {}
            },
        }
    }
    items.push(&text[start..]);
    items
}

fn list(text: &str) -> Result<Vec<toml::Value>, String> {
    split_items(text)
        .into_iter()
        .map(|item| {
            let item = item.trim();
            if item.is_empty() {
                return Err(format!("an empty value in the list `{text}`"));
            }
            if let Some(v) = format!("v = {item}")
                .parse::<toml::Table>()
                .ok()
                .and_then(|mut t| t.remove("v"))
            {
                return Ok(v);
            }
            // A bare word is a string; anything quoted or bracketed must be a TOML value.
            if item.contains(['"', '\'', '[', ']', '{', '}']) {
                return Err(format!(
                    "`{item}` is not a TOML value (a quoted string, a number, true or false, or an array)"
                ));
            }
            Ok(toml::Value::String(item.to_owned()))
        })
        .collect()
}

/// Parses every specification; refuses a key given twice and a product of more than
/// `max_points` points.
pub fn parse_axes(specs: &[String], max_points: usize) -> Result<Vec<Axis>, GridError> {
    let axes: Vec<Axis> = specs
        .iter()
        .map(|s| parse_axis(s))
        .collect::<Result<_, _>>()?;
    for (i, a) in axes.iter().enumerate() {
        if axes[..i].iter().any(|b| b.key == a.key) {
            return Err(GridError(format!(
                "--grid: the key `{}` is given twice",
                a.key
            )));
        }
    }
    let total = axes
        .iter()
        .try_fold(1usize, |acc, a| acc.checked_mul(a.values.len()));
    match total {
        Some(t) if t <= max_points => Ok(axes),
        _ => Err(GridError(format!(
            "--grid: the grid has more than {max_points} points"
        ))),
    }
}

/// Number of points of the product of `axes`.
pub fn point_count(axes: &[Axis]) -> usize {
    axes.iter().map(|a| a.values.len()).product()
}

/// The indices on every axis of point `n` (the first axis varies slowest).
pub fn point_index(axes: &[Axis], mut n: usize) -> Vec<usize> {
    let mut idx = vec![0; axes.len()];
    for (k, a) in axes.iter().enumerate().rev() {
        idx[k] = n % a.values.len();
        n /= a.values.len();
    }
    idx
}

/// The point number of the indices `idx` (inverse of [`point_index`]).
pub fn point_number(axes: &[Axis], idx: &[usize]) -> usize {
    axes.iter()
        .zip(idx)
        .fold(0, |n, (a, &i)| n * a.values.len() + i)
}

/// The `--set` overrides of point `idx`.
pub fn assignments(axes: &[Axis], idx: &[usize]) -> Vec<String> {
    axes.iter()
        .zip(idx)
        .map(|(a, &i)| a.assignment(i))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn floats(a: &Axis) -> Vec<f64> {
        a.numbers().unwrap()
    }

    #[test]
    fn ranges_include_stop_on_the_grid() {
        let a = parse_axis("synapse.g=0:8:0.05").unwrap();
        assert_eq!(a.key, "synapse.g");
        let v = floats(&a);
        assert_eq!(v.len(), 161);
        assert_eq!(v[3], 0.15);
        assert_eq!(*v.last().unwrap(), 8.0);
        let v = floats(&parse_axis("input.ratio=0.5:4:0.05").unwrap());
        assert_eq!(v.len(), 71);
        assert_eq!(v[1], 0.55);
        // STOP off the grid: the last value below it.
        assert_eq!(
            floats(&parse_axis("synapse.g=1:2:0.3").unwrap()),
            [1.0, 1.3, 1.6, 1.9]
        );
        // Counting down.
        assert_eq!(
            floats(&parse_axis("synapse.g=3:1:-1").unwrap()),
            [3.0, 2.0, 1.0]
        );
        // One point.
        assert_eq!(floats(&parse_axis("synapse.g=4:4:1").unwrap()), [4.0]);
    }

    #[test]
    fn whole_number_ranges_are_integers() {
        let a = parse_axis("simulation.seed=1:3:1").unwrap();
        assert_eq!(a.values, [1, 2, 3].map(toml::Value::Integer).to_vec());
        assert_eq!(a.assignment(1), "simulation.seed=2");
    }

    #[test]
    fn lists_hold_toml_values() {
        let a = parse_axis("synapse.g=3,4.5, 5,6").unwrap();
        assert_eq!(floats(&a), [3.0, 4.5, 5.0, 6.0]);
        let a = parse_axis("network.connectivity=bernoulli,fixed_indegree").unwrap();
        assert_eq!(a.assignment(1), "network.connectivity=\"fixed_indegree\"");
        assert!(a.numbers().is_none());
    }

    #[test]
    fn list_items_keep_the_commas_of_strings_and_arrays() {
        let a = parse_axis(r#"plot.title="a,b","c""#).unwrap();
        assert_eq!(a.values, ["a,b", "c"].map(toml::Value::from).to_vec());
        let a = parse_axis(r#"plot.title='x,y', "say \"hi, there\"", bare"#).unwrap();
        assert_eq!(
            a.values,
            ["x,y", "say \"hi, there\"", "bare"]
                .map(toml::Value::from)
                .to_vec()
        );
        let a = parse_axis("plot.window=[0, 100],[100,200]").unwrap();
        assert_eq!(a.values.len(), 2);
        assert_eq!(a.assignment(1), "plot.window=[100, 200]");
        let a = parse_axis(r#"plot.title="12:30""#).unwrap();
        assert_eq!(a.values, [toml::Value::from("12:30")]);
        // A quote or bracket that does not close is refused, not taken as a string.
        for spec in [
            r#"plot.title="a,b"#,
            r#"plot.title="a","b"#,
            "plot.window=[0,1",
        ] {
            let e = parse_axis(spec).unwrap_err().to_string();
            assert!(e.contains("not a TOML value"), "{spec}: {e}");
        }
    }

    #[test]
    fn bad_specifications_are_refused_with_a_reason() {
        for (spec, says) in [
            ("synapse.g", "expected KEY="),
            ("g=1:2:1", "section.key"),
            ("synapse.g=", "no values"),
            ("synapse.g=1:2:0", "step is zero"),
            ("synapse.g=5:3:1", "range is empty"),
            ("synapse.g=1:x:1", "STOP `x` is not a number"),
            ("synapse.g=1:2", "START:STOP:STEP"),
            ("synapse.g=1,,2", "empty value"),
            ("synapse.g=0:1:1e-9", "at most"),
            ("synapse.g=0:inf:1", "finite"),
        ] {
            let e = parse_axis(spec).unwrap_err().to_string();
            assert!(e.contains(says), "{spec}: {e}");
            assert!(e.contains(spec), "{spec}: {e}");
        }
    }

    #[test]
    fn products_and_their_points() {
        let axes = parse_axes(
            &[
                "synapse.g=1,2,3".to_owned(),
                "input.ratio=1:2:0.5".to_owned(),
            ],
            100,
        )
        .unwrap();
        assert_eq!(point_count(&axes), 9);
        // The first axis varies slowest.
        assert_eq!(point_index(&axes, 0), [0, 0]);
        assert_eq!(point_index(&axes, 1), [0, 1]);
        assert_eq!(point_index(&axes, 5), [1, 2]);
        for n in 0..9 {
            assert_eq!(point_number(&axes, &point_index(&axes, n)), n);
        }
        assert_eq!(
            assignments(&axes, &[2, 1]),
            ["synapse.g=3", "input.ratio=1.5"]
        );
        let e =
            parse_axes(&["synapse.g=1,2".to_owned(), "synapse.g=3".to_owned()], 100).unwrap_err();
        assert!(e.0.contains("given twice"), "{e}");
        let e = parse_axes(&["synapse.g=0:99:1".to_owned()], 10).unwrap_err();
        assert!(e.0.contains("more than 10 points"), "{e}");
    }
}
