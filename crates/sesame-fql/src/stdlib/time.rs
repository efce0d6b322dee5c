//! Time values (spec §6.10): parsing with a required offset, `add`/`subtract` with units,
//! field getters, conversions. Times are microsecond-precision `Timestamp`s (sub-microsecond
//! digits are dropped: an acceptable deviation from Fauna's nanoseconds).

use sesame_model::Timestamp;
use time::OffsetDateTime;

use crate::error::{Code, QueryError, Result};
use crate::eval::{arity, bad_arg, Interp};
use crate::value::Value;

/// Fauna's extra forms, rewritten to RFC 3339: `HH:mm` without seconds, and `±HHMM` offsets.
fn normalise(s: &str) -> Option<String> {
    let b = s.as_bytes();
    if b.len() < 17 || b.get(10) != Some(&b'T') || b.get(13) != Some(&b':') {
        return None;
    }
    let mut out = s.to_owned();
    if b.get(16) != Some(&b':') {
        out.insert_str(16, ":00");
    }
    let n = out.len();
    let tail = &out.as_bytes()[n.saturating_sub(5)..];
    if tail.len() == 5
        && (tail[0] == b'+' || tail[0] == b'-')
        && tail[1..].iter().all(u8::is_ascii_digit)
    {
        out.insert(n - 2, ':');
    }
    Some(out)
}

/// Parses `Time("…")`: RFC 3339 with a required offset (also `HH:mm` and `±HHMM`).
pub(crate) fn parse_time(s: &str) -> Result<Timestamp> {
    let parsed = Timestamp::parse_rfc3339(s)
        .or_else(|e| normalise(s).ok_or(e).and_then(|n| Timestamp::parse_rfc3339(&n)));
    parsed.map_err(|_| {
        let t: String = s.chars().take(64).collect();
        QueryError::new(Code::InvalidTime, format!("`{t}` is not a valid time."))
    })
}

fn dt(t: Timestamp) -> Option<OffsetDateTime> {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(t.as_micros()) * 1000).ok()
}

/// `t.year`, `t.month`, … (UTC).
pub(crate) fn time_field(t: Timestamp, name: &str) -> Option<Value> {
    let d = dt(t)?;
    Some(Value::Int(match name {
        "year" => d.year(),
        "month" => i32::from(u8::from(d.month())),
        "dayOfMonth" => i32::from(d.day()),
        "dayOfWeek" => i32::from(d.weekday().number_from_monday()),
        "dayOfYear" => i32::from(d.ordinal()),
        "hour" => i32::from(d.hour()),
        "minute" => i32::from(d.minute()),
        "second" => i32::from(d.second()),
        _ => return None,
    }))
}

/// Microseconds in one unit, scaled by 1000 for sub-microsecond units (nanoseconds).
fn unit_nanos(unit: &str) -> Option<i128> {
    Some(match unit.trim() {
        "nanosecond" | "nanoseconds" => 1,
        "microsecond" | "microseconds" => 1_000,
        "millisecond" | "milliseconds" => 1_000_000,
        "second" | "seconds" => 1_000_000_000,
        "minute" | "minutes" => 60_000_000_000,
        "hour" | "hours" => 3_600_000_000_000,
        "half day" | "half days" => 43_200_000_000_000,
        "day" | "days" => 86_400_000_000_000,
        _ => return None,
    })
}

/// `t ± n unit`.
pub(crate) fn shift(t: Timestamp, n: &Value, unit: &str, sign: i128) -> Result<Timestamp> {
    let Some(per) = unit_nanos(unit) else {
        return Err(QueryError::new(
            Code::InvalidUnit,
            format!("`{unit}` is not a valid time unit."),
        ));
    };
    let nanos: i128 = match n {
        Value::Double(d) => {
            let x = d * per as f64;
            if !x.is_finite() || x.abs() > 1e30 {
                return Err(QueryError::new(Code::InvalidTime, "Time exceeds the maximum value."));
            }
            x.round() as i128
        }
        other => {
            i128::from(other.as_i64().ok_or_else(|| bad_arg("amount", "Number", other))?) * per
        }
    };
    let us = i128::from(t.as_micros()) + sign * nanos / 1000;
    let us = i64::try_from(us)
        .map_err(|_| QueryError::new(Code::InvalidTime, "Time exceeds the maximum value."))?;
    Timestamp::from_micros(us).map_err(|_| {
        let which = if us > 0 { "maximum" } else { "minimum" };
        QueryError::new(Code::InvalidTime, format!("Time exceeds the {which} value."))
    })
}

impl Interp<'_> {
    pub(crate) fn time_method(
        &mut self,
        t: Timestamp,
        name: &str,
        args: &[Value],
    ) -> Option<Result<Value>> {
        let r = || -> Result<Value> {
            Ok(match name {
                "add" | "subtract" => {
                    arity(args, 2, 2)?;
                    let Value::Str(unit) = &args[1] else {
                        return Err(bad_arg("unit", "String", &args[1]));
                    };
                    if args[0].as_f64().is_none() {
                        return Err(bad_arg("amount", "Number", &args[0]));
                    }
                    Value::Time(shift(t, &args[0], unit, if name == "add" { 1 } else { -1 })?)
                }
                "difference" => {
                    arity(args, 2, 2)?;
                    let Value::Time(start) = &args[0] else {
                        return Err(bad_arg("start", "Time", &args[0]));
                    };
                    let Value::Str(unit) = &args[1] else {
                        return Err(bad_arg("unit", "String", &args[1]));
                    };
                    let per = unit_nanos(unit).ok_or_else(|| {
                        QueryError::new(
                            Code::InvalidUnit,
                            format!("`{unit}` is not a valid time unit."),
                        )
                    })?;
                    let d =
                        (i128::from(t.as_micros()) - i128::from(start.as_micros())) * 1000 / per;
                    Value::Long(i64::try_from(d).unwrap_or(i64::MAX))
                }
                "toString" => {
                    arity(args, 0, 0)?;
                    Value::str(t.to_rfc3339())
                }
                "toMicros" => Value::Long(t.as_micros()),
                "toMillis" => Value::Long(t.as_micros().div_euclid(1000)),
                "toSeconds" => Value::Long(t.as_micros().div_euclid(1_000_000)),
                _ => return Err(QueryError::new(Code::InternalError, "")),
            })
        };
        match r() {
            Err(e) if e.code == Code::InternalError && e.message.is_empty() => None,
            r => Some(r),
        }
    }
}
