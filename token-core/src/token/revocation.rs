//! Revoked playback sessions, and their export as an AWS WAF rule group.
//!
//! SMD revokes a session by blocking its URL prefix in AWS WAF before the token is even checked.
//! A [`RevocationList`] gives the verifier the same power (code `revoked`, HTTP 403) and exports
//! the rules for WAF. SMD's rules match `STARTS_WITH "/<sid>"`, so revoking `abc` also blocks
//! `abcd`; the exported rules match `/<sid>.` with the delimiter.

use serde::{Deserialize, Serialize};

use crate::time::UnixTime;

/// One revoked session.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Revocation {
    /// The playback session id (the `<sid>` of `/<sid>.<jwt>/…`).
    pub session_id: String,
    /// When the revocation lapses, seconds since the epoch; `None` = never. Set it to the token
    /// lifetime's end: after that the token is dead anyway.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<i64>,
    /// Free-form reason, for operators (SMD uses `COMPROMISED`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// A set of revoked sessions. JSON: `{"revoked": [{"session_id": …, "expires_at": …, "reason": …}]}`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RevocationList {
    /// The revoked sessions, in the order they were added.
    pub revoked: Vec<Revocation>,
}

/// WAF capacity units one `STARTS_WITH` byte-match rule without transformations costs.
const WCU_PER_RULE: usize = 2;

impl RevocationList {
    /// Parses the JSON form.
    ///
    /// # Errors
    /// The `serde_json` error when the text is not that shape.
    pub fn from_json(text: &str) -> Result<Self, serde_json::Error> {
        serde_json::from_str(text)
    }

    /// The JSON form, pretty-printed.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_default() + "\n"
    }

    /// True when `session_id` is revoked at `now`.
    pub fn is_revoked(&self, session_id: &str, now: UnixTime) -> bool {
        self.revoked.iter().any(|r| {
            r.session_id == session_id && r.expires_at.is_none_or(|exp| now.as_secs() <= exp)
        })
    }

    /// Adds (or refreshes) a revocation. Returns false when an identical entry already existed.
    pub fn add(&mut self, entry: Revocation) -> bool {
        if let Some(existing) = self.revoked.iter_mut().find(|r| r.session_id == entry.session_id) {
            let changed = *existing != entry;
            *existing = entry;
            return changed;
        }
        self.revoked.push(entry);
        true
    }

    /// Drops entries that lapsed before `now`; returns how many.
    pub fn prune(&mut self, now: UnixTime) -> usize {
        let before = self.revoked.len();
        self.revoked.retain(|r| r.expires_at.is_none_or(|exp| now.as_secs() <= exp));
        before - self.revoked.len()
    }

    /// The sessions still revoked at `now`.
    pub fn active(&self, now: UnixTime) -> impl Iterator<Item = &Revocation> {
        self.revoked.iter().filter(move |r| r.expires_at.is_none_or(|exp| now.as_secs() <= exp))
    }

    /// An AWS WAFv2 rule group (scope `CLOUDFRONT`) that blocks every session still revoked at
    /// `now`: one rule per session, `ByteMatchStatement` on `UriPath`, `STARTS_WITH "/<sid>."`,
    /// no text transformation, action `Block`. The shape is the input of
    /// `aws wafv2 create-rule-group --cli-input-json` (add `--lock-token` for updates), and
    /// `Capacity` is 2 WCU per rule (minimum 2).
    pub fn to_waf_rule_group(&self, name: &str, now: UnixTime) -> serde_json::Value {
        let metric =
            |s: &str| -> String { s.chars().filter(|c| c.is_ascii_alphanumeric()).collect() };
        let rules: Vec<serde_json::Value> = self
            .active(now)
            .enumerate()
            .map(|(i, r)| {
                let rule_name = format!("{name}-{}", i + 1);
                serde_json::json!({
                    "Name": rule_name,
                    "Priority": i + 1,
                    "Statement": {
                        "ByteMatchStatement": {
                            "SearchString": format!("/{}.", r.session_id),
                            "FieldToMatch": { "UriPath": {} },
                            "TextTransformations": [{ "Priority": 0, "Type": "NONE" }],
                            "PositionalConstraint": "STARTS_WITH"
                        }
                    },
                    "Action": { "Block": {} },
                    "VisibilityConfig": {
                        "SampledRequestsEnabled": true,
                        "CloudWatchMetricsEnabled": true,
                        "MetricName": metric(&rule_name)
                    }
                })
            })
            .collect();
        serde_json::json!({
            "Name": name,
            "Scope": "CLOUDFRONT",
            "Capacity": (rules.len() * WCU_PER_RULE).max(WCU_PER_RULE),
            "Description": "Blocks revoked playback sessions (path prefix /<sid>.)",
            "Rules": rules,
            "VisibilityConfig": {
                "SampledRequestsEnabled": true,
                "CloudWatchMetricsEnabled": true,
                "MetricName": metric(name)
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expiry_and_waf_delimiter() {
        let mut list = RevocationList::default();
        assert!(list.add(Revocation {
            session_id: "abc".into(),
            expires_at: Some(100),
            reason: None
        }));
        assert!(list.add(Revocation {
            session_id: "forever".into(),
            expires_at: None,
            reason: None
        }));
        assert!(list.is_revoked("abc", UnixTime::from_secs(100)));
        assert!(!list.is_revoked("abc", UnixTime::from_secs(101)));
        assert!(!list.is_revoked("abcd", UnixTime::from_secs(0)), "no prefix matching");
        let waf = list.to_waf_rule_group("smd-revoked", UnixTime::from_secs(0));
        assert_eq!(waf["Rules"][0]["Statement"]["ByteMatchStatement"]["SearchString"], "/abc.");
        assert_eq!(waf["Capacity"], 4);
        let later = list.to_waf_rule_group("smd-revoked", UnixTime::from_secs(200));
        assert_eq!(later["Rules"].as_array().unwrap().len(), 1);
        assert_eq!(list.prune(UnixTime::from_secs(200)), 1);
        assert_eq!(RevocationList::from_json(&list.to_json()).unwrap(), list);
    }
}
