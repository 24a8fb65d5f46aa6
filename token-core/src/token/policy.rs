//! The inputs of token generation, in the SMD SDK's own shapes.
//!
//! [`TokenPolicy`] is SMD's `token_policy` record and [`ViewerAttributes`] its
//! `viewer_attributes`, so records an SMD deployment already keeps (for example in its DynamoDB
//! asset table) can be read verbatim with [`TokenPolicy::from_smd_json`] and
//! [`ViewerAttributes::from_smd_json`]. Flags follow JavaScript truthiness there (`1`, `true` and
//! `"yes"` all set a flag), as the SDK reads them.

use serde_json::Value;

use super::error::SignError;

/// What a token grants and which viewer attributes it binds (SMD `token_policy`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TokenPolicy {
    /// Bind the viewer IP (`ip`).
    pub ip: bool,
    /// Bind the viewer country (`co`, header `cloudfront-viewer-country`).
    pub co: bool,
    /// Write `co_fallback` into the token: an edge without the country header skips the binding.
    pub co_fallback: bool,
    /// Bind the viewer city (`cty`, header `cloudfront-viewer-city`).
    pub cty: bool,
    /// Issue a `cty` token even when the city is unknown (the value is then the text `undefined`).
    pub cty_fallback: bool,
    /// Bind the viewer region (`reg`, header `cloudfront-viewer-country-region`).
    pub reg: bool,
    /// Write `reg_fallback` into the token.
    pub reg_fallback: bool,
    /// Bind a playback session id, carried in the URL as `/<sid>.<jwt>/…` (`ssn`).
    pub ssn: bool,
    /// Length of a generated session id (must be > 6). Defaults to 12.
    pub session_auto_generate: Option<u32>,
    /// Lower-case request header names whose values are bound, in order.
    pub headers: Vec<String>,
    /// Query parameter names whose values are bound, in order.
    pub querystrings: Vec<String>,
    /// URI prefixes the token grants (`startsWith` on the URI with the token removed).
    pub paths: Vec<String>,
    /// URI prefixes excluded from path and binding checks. Defaults to none.
    pub exc: Vec<String>,
    /// Not-before, seconds since the epoch. Defaults to none.
    pub nbf: Option<i64>,
    /// Expiry: `"+<N>h"`, `"+<N>m"` (relative to the signing time) or an absolute epoch string.
    pub exp: String,
}

/// What the token is bound to: the viewer's attributes at issue time (SMD `viewer_attributes`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ViewerAttributes {
    /// Viewer IP address.
    pub ip: Option<String>,
    /// Viewer country (`cloudfront-viewer-country`).
    pub co: Option<String>,
    /// Viewer city (`cloudfront-viewer-city`).
    pub cty: Option<String>,
    /// Viewer region (`cloudfront-viewer-country-region`).
    pub reg: Option<String>,
    /// Session id to use instead of a generated one (`sessionId`).
    pub session_id: Option<String>,
    /// Request headers as `(lower-case name, value)`.
    pub headers: Vec<(String, String)>,
    /// Query parameters as `(name, value)`.
    pub qs: Vec<(String, String)>,
}

impl ViewerAttributes {
    /// The value of header `name` (exact name first, then ASCII case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .or_else(|| self.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)))
            .map(|(_, v)| v.as_str())
    }

    /// The value of query parameter `name`.
    pub fn query(&self, name: &str) -> Option<&str> {
        self.qs.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
    }

    /// Reads SMD's `viewer_attributes` JSON: `{ip, co, cty, reg, sessionId, headers: {name:
    /// value}, qs: {name: value}}`, every member optional.
    ///
    /// # Errors
    /// [`SignError::Policy`] when a member has the wrong type.
    pub fn from_smd_json(value: &Value) -> Result<Self, SignError> {
        let obj = value
            .as_object()
            .ok_or_else(|| SignError::Policy("viewer attributes must be an object".into()))?;
        let text = |name: &str| -> Result<Option<String>, SignError> {
            match obj.get(name) {
                None | Some(Value::Null) => Ok(None),
                Some(Value::String(s)) => Ok(Some(s.clone())),
                Some(Value::Number(n)) => Ok(Some(n.to_string())),
                Some(_) => {
                    Err(SignError::Policy(format!("viewer attribute {name:?} must be a string")))
                }
            }
        };
        let pairs = |name: &str| -> Result<Vec<(String, String)>, SignError> {
            match obj.get(name) {
                None | Some(Value::Null) => Ok(Vec::new()),
                Some(Value::Object(map)) => map
                    .iter()
                    .map(|(k, v)| match v {
                        Value::String(s) => Ok((k.clone(), s.clone())),
                        Value::Number(n) => Ok((k.clone(), n.to_string())),
                        _ => Err(SignError::Policy(format!("viewer {name}.{k} must be a string"))),
                    })
                    .collect(),
                Some(_) => {
                    Err(SignError::Policy(format!("viewer attribute {name:?} must be an object")))
                }
            }
        };
        Ok(Self {
            ip: text("ip")?,
            co: text("co")?,
            cty: text("cty")?,
            reg: text("reg")?,
            session_id: text("sessionId")?,
            headers: pairs("headers")?,
            qs: pairs("qs")?,
        })
    }
}

impl TokenPolicy {
    /// Reads SMD's `token_policy` JSON. Flags use JavaScript truthiness; `nbf` may be a string or a
    /// number; `exp` must be a string, as the SDK requires.
    ///
    /// # Errors
    /// [`SignError::Policy`] when a member has the wrong type, [`SignError::InvalidNbf`] when
    /// `nbf` is not an epoch.
    pub fn from_smd_json(value: &Value) -> Result<Self, SignError> {
        let obj = value
            .as_object()
            .ok_or_else(|| SignError::Policy("token policy must be an object".into()))?;
        let flag = |name: &str| obj.get(name).is_some_and(js_truthy);
        let list = |name: &str| -> Result<Vec<String>, SignError> {
            match obj.get(name) {
                None | Some(Value::Null) => Ok(Vec::new()),
                Some(Value::Array(items)) => items
                    .iter()
                    .map(|v| {
                        v.as_str().map(str::to_owned).ok_or_else(|| {
                            SignError::Policy(format!("policy {name:?} must hold strings"))
                        })
                    })
                    .collect(),
                Some(_) => Err(SignError::Policy(format!("policy {name:?} must be an array"))),
            }
        };
        let nbf = match obj.get("nbf") {
            Some(v) if js_truthy(v) => {
                Some(parse_epoch_value(v).ok_or_else(|| SignError::InvalidNbf(v.to_string()))?)
            }
            _ => None,
        };
        let exp = match obj.get("exp") {
            Some(Value::String(s)) => s.clone(),
            None | Some(Value::Null) => String::new(),
            Some(other) => return Err(SignError::InvalidExp(other.to_string())),
        };
        let session_auto_generate = match obj.get("session_auto_generate") {
            Some(v) if js_truthy(v) => {
                Some(parse_epoch_value(v).and_then(|n| u32::try_from(n).ok()).ok_or_else(|| {
                    SignError::Policy("session_auto_generate must be a number".into())
                })?)
            }
            _ => None,
        };
        Ok(Self {
            ip: flag("ip"),
            co: flag("co"),
            co_fallback: flag("co_fallback"),
            cty: flag("cty"),
            cty_fallback: flag("cty_fallback"),
            reg: flag("reg"),
            reg_fallback: flag("reg_fallback"),
            ssn: flag("ssn"),
            session_auto_generate,
            headers: list("headers")?,
            querystrings: list("querystrings")?,
            paths: list("paths")?,
            exc: list("exc")?,
            nbf,
            exp,
        })
    }
}

/// JavaScript truthiness of a JSON value.
pub(crate) fn js_truthy(v: &Value) -> bool {
    match v {
        Value::Null => false,
        Value::Bool(b) => *b,
        Value::Number(n) => n.as_f64().is_some_and(|f| f != 0.0 && !f.is_nan()),
        Value::String(s) => !s.is_empty(),
        Value::Array(_) | Value::Object(_) => true,
    }
}

/// JavaScript `parseInt` on a decimal integer prefix: leading whitespace, optional sign, digits.
/// `None` where `parseInt` gives `NaN` or the value is outside `i64`.
pub(crate) fn parse_int_prefix(s: &str) -> Option<i64> {
    let s = s.trim_start();
    let (neg, digits) = match s.as_bytes().first() {
        Some(b'-') => (true, s.get(1..)?),
        Some(b'+') => (false, s.get(1..)?),
        _ => (false, s),
    };
    let end = digits.bytes().position(|b| !b.is_ascii_digit()).unwrap_or(digits.len());
    let n: i64 = digits.get(..end)?.parse().ok()?;
    Some(if neg { -n } else { n })
}

fn parse_epoch_value(v: &Value) -> Option<i64> {
    match v {
        Value::String(s) => parse_int_prefix(s),
        Value::Number(n) => n.as_i64().or_else(|| n.as_f64().map(|f| f.trunc() as i64)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_int_like_javascript() {
        assert_eq!(parse_int_prefix("1.5"), Some(1));
        assert_eq!(parse_int_prefix("  42abc"), Some(42));
        assert_eq!(parse_int_prefix("-3"), Some(-3));
        assert_eq!(parse_int_prefix("abc"), None);
        assert_eq!(parse_int_prefix(""), None);
    }

    #[test]
    fn smd_policy_record_reads_verbatim() {
        let v: Value = serde_json::from_str(
            r#"{"ip":0,"co":false,"cty":false,"co_fallback":true,"cty_fallback":true,"ssn":true,
               "session_auto_generate":12,"headers":["user-agent","referer"],"exc":["/ads/"],
               "nbf":"1645000000","paths":["/out/v1/abc/"],"exp":"+1h"}"#,
        )
        .unwrap();
        let p = TokenPolicy::from_smd_json(&v).unwrap();
        assert!(!p.ip && p.ssn && p.co_fallback);
        assert_eq!(p.session_auto_generate, Some(12));
        assert_eq!(p.nbf, Some(1_645_000_000));
        assert_eq!(p.headers, ["user-agent", "referer"]);
        assert_eq!(p.exp, "+1h");
    }
}
