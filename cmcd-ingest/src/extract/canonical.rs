//! The CMCD columns of a row read straight from payloads in the shape players write
//! ([`token_core::cmcd::read_canonical`]), without building a [`token_core::cmcd::Report`].
//!
//! The columns come out as [`super::fill_from_report`] makes them from the report the general
//! decoder builds for the same payload (the `direct_path_equals_the_report_path` property test
//! holds the two equal). Whenever the reader gives up — a payload outside the canonical shape,
//! a key in two headers, a header over the size limits, a list too long to keep here — the
//! values read so far are cleared and the caller decodes with the general path, so the rules
//! for anything unusual live in one place.

use std::ops::ControlFlow;

use token_core::cmcd::{self, Canonical, Key, ObjectType, Sample, Visit};

use super::{Cmcd, reuse, to_i64};

/// Members kept of a multi-member numeric list until `ot` is known (v2 lists carry one sample
/// per object type: two in practice).
const KEPT_MEMBERS: usize = 4;

/// The numeric list keys whose column is one member picked with `ot`.
const PICKED: [Key; 7] = [Key::Br, Key::Bl, Key::Mtp, Key::Tb, Key::Bsa, Key::Bsda, Key::Pb];

/// Reads the `CMCD=` payload (already percent-decoded) into `out`; `false`, with `out`'s values
/// cleared, when the general path must decode it.
pub(super) fn read_query(payload: &str, out: &mut Cmcd, spare: &mut Cmcd) -> bool {
    if payload.len() > cmcd::MAX_PAYLOAD_LEN {
        return false;
    }
    let mut columns = Columns::new(out, spare);
    let read = cmcd::read_canonical(payload, &mut columns);
    columns.finish(read)
}

/// Reads the `CMCD-*` header values into `out` (under `cmcd::decode_headers`' rules, by
/// `cmcd::read_canonical_headers`); `false`, with `out`'s values cleared, when the general path
/// must decode them.
pub(super) fn read_headers(headers: &[(&str, &str)], out: &mut Cmcd, spare: &mut Cmcd) -> bool {
    let mut columns = Columns::new(out, spare);
    let read = cmcd::read_canonical_headers(headers.iter().copied(), &mut columns);
    columns.finish(read)
}

/// A multi-member list of a [`PICKED`] key, kept until the payload's end.
#[derive(Clone, Copy)]
struct Kept {
    len: usize,
    members: [Sample; KEPT_MEMBERS],
}

/// The visitor: writes each member into its column of `out`.
struct Columns<'o> {
    out: &'o mut Cmcd,
    /// The previous row's values, whose text buffers take this row's texts.
    spare: &'o mut Cmcd,
    /// Keys received so far (bits `1 << key`), across the headers of a request.
    received: u64,
    /// Multi-member lists of the [`PICKED`] keys, by position in [`PICKED`].
    kept: [Option<Kept>; PICKED.len()],
}

impl<'o> Columns<'o> {
    fn new(out: &'o mut Cmcd, spare: &'o mut Cmcd) -> Self {
        Self { out, spare, received: 0, kept: [None; PICKED.len()] }
    }

    /// Resolves the kept lists with `ot` and checks the version; clears the values and returns
    /// `false` when the payload was not read (`read` false) or is left to the general path.
    fn finish(self, read: bool) -> bool {
        if !read {
            self.out.clear_values();
            return false;
        }
        let ot = self.out.ot;
        for (key, kept) in PICKED.iter().zip(&self.kept) {
            if let Some(kept) = kept {
                let value = pick(kept.members.get(..kept.len).unwrap_or_default(), ot);
                *picked_slot(self.out, *key) = value;
            }
        }
        // The general path rejects the whole payload when `v` > 2 (CTA-5004-B §6).
        if let Some(version) = self.out.v.filter(|v| *v > 2) {
            self.out.clear_values();
            self.out.error = Some(cmcd::Error::UnsupportedVersion { version }.code());
        }
        true
    }
}

/// The member of `samples` tagged with `ot`, else the first (as `super::pick`).
fn pick(samples: &[Sample], ot: Option<ObjectType>) -> Option<i64> {
    ot.and_then(|o| samples.iter().find(|m| m.object == Some(o)))
        .or_else(|| samples.first())
        .map(|m| to_i64(m.value))
}

/// The column of a [`PICKED`] key.
fn picked_slot(out: &mut Cmcd, key: Key) -> &mut Option<i64> {
    match key {
        Key::Br => &mut out.br,
        Key::Bl => &mut out.bl,
        Key::Mtp => &mut out.mtp,
        Key::Tb => &mut out.tb,
        Key::Bsa => &mut out.bsa,
        Key::Bsda => &mut out.bsda,
        _ => &mut out.pb,
    }
}

impl Visit for Columns<'_> {
    fn holds(&self, key: Key) -> bool {
        self.received & (1 << (key as u32)) != 0
    }

    fn member(&mut self, key: Key, value: Canonical<'_>) -> ControlFlow<()> {
        self.received |= 1 << (key as u32);
        let out = &mut *self.out;
        let spare = &mut *self.spare;
        match (key, value) {
            (Key::Cid, Canonical::String(s)) => out.cid = Some(reuse(&mut spare.cid, s)),
            (Key::Sid, Canonical::String(s)) => out.sid = Some(reuse(&mut spare.sid, s)),
            (Key::Nrr, Canonical::String(s)) => out.nrr = Some(reuse(&mut spare.nrr, s)),
            (Key::Nor, Canonical::NextObjects(urls)) => {
                out.nor = urls.first().map(|u| reuse(&mut spare.nor, u));
            }
            (Key::Ot, Canonical::ObjectType(t)) => out.ot = Some(t),
            (Key::Sf, Canonical::StreamingFormat(t)) => out.sf = Some(t),
            (Key::St, Canonical::StreamType(t)) => out.st = Some(t),
            (Key::Sta, Canonical::PlayerState(t)) => out.sta = Some(t),
            (Key::Bs, Canonical::Boolean(b)) => out.bs = Some(b),
            (Key::Su, Canonical::Boolean(b)) => out.su = Some(b),
            (Key::Pr, Canonical::Decimal(d)) => out.pr = Some(d.to_f64()),
            (Key::D, Canonical::Integer(n)) => out.d = Some(to_i64(n)),
            (Key::Dl, Canonical::Integer(n)) => out.dl = Some(to_i64(n)),
            (Key::Rtp, Canonical::Integer(n)) => out.rtp = Some(to_i64(n)),
            (Key::V, Canonical::Integer(n)) => out.v = Some(to_i64(n)),
            (Key::Pt, Canonical::Integer(n)) => out.pt = Some(to_i64(n)),
            (Key::Ltc, Canonical::Integer(n)) => out.ltc = Some(to_i64(n)),
            (Key::Msd, Canonical::Integer(n)) => out.msd = Some(to_i64(n)),
            (Key::Sn, Canonical::Integer(n)) => out.sn = Some(to_i64(n)),
            (Key::Dfa, Canonical::Integer(n)) => out.dfa = Some(to_i64(n)),
            (Key::Bsd, Canonical::Samples(s)) => {
                out.bsd = Some(s.iter().fold(0i64, |acc, m| acc.saturating_add(to_i64(m.value))));
            }
            (Key::Ec, Canonical::Strings(codes)) => out.ec = Some(codes.join(",")),
            (key, Canonical::Samples(samples)) => {
                let Some(at) = PICKED.iter().position(|k| *k == key) else {
                    return ControlFlow::Continue(()); // a list key without a column
                };
                match samples {
                    // One member: it is the pick whatever `ot` turns out to be.
                    [only] => *picked_slot(out, key) = Some(to_i64(only.value)),
                    many => {
                        let mut kept =
                            Kept { len: many.len(), members: [Sample::new(0); KEPT_MEMBERS] };
                        let (Some(members), Some(slot)) =
                            (kept.members.get_mut(..many.len()), self.kept.get_mut(at))
                        else {
                            return ControlFlow::Break(()); // too many to keep: general path
                        };
                        members.copy_from_slice(many);
                        *slot = Some(kept);
                    }
                }
            }
            // Keys without a column (`ts`, `e`, `nr`, …) are not kept.
            _ => {}
        }
        ControlFlow::Continue(())
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;
    use token_core::cmcd::Policy;

    use super::super::fill_from_report;
    use super::*;

    /// The columns the general path gives: decode into a report, then `fill_from_report`.
    fn via_report(decoded: Result<cmcd::Report, cmcd::Error>) -> Cmcd {
        let mut out = Cmcd::default();
        match decoded {
            Ok(report) => fill_from_report(report, &mut out),
            Err(e) => out.error = Some(e.code()),
        }
        out
    }

    /// Keys with a column, keys without, and names that are no key.
    const KEYS: &[&str] = &[
        "br", "bl", "bs", "cid", "d", "dl", "mtp", "nor", "nrr", "ot", "pr", "rtp", "sf", "sid",
        "st", "su", "tb", "v", "pt", "sta", "ltc", "msd", "bsa", "bsd", "bsda", "pb", "sn", "ec",
        "dfa", "ts", "e", "nr", "tbl", "zz", "com.x-y",
    ];
    /// Values of every kind, in and out of the canonical shape.
    const VALUES: &[&str] = &[
        "3200",
        "0",
        "1",
        "2",
        "3",
        "999999999999999",
        "1.5",
        "1.25",
        "\"abc\"",
        "\"\"",
        "\"a\\\"b\"",
        "\"..%2Fseg_2.m4s\"",
        "v",
        "av",
        "a",
        "l",
        "d",
        "h",
        "p",
        "x",
        "?1",
        "?0",
        "(3200;v 128;a)",
        "(128;a 3200;v)",
        "(1;a 2;v 3;av 4)",
        "(1 2 3 4 5)",
        "(7)",
        "(7;v)",
        "()",
        "(\"a\" \"b\")",
        "(\"../a.m4s\" \"../b.m4s\")",
        "true",
    ];

    fn payload() -> impl Strategy<Value = String> {
        let member = (0..KEYS.len(), proptest::option::weighted(0.9, 0..VALUES.len()));
        proptest::collection::vec(member, 1..9).prop_map(|members| {
            let texts: Vec<String> = members
                .into_iter()
                .map(|(k, v)| match v {
                    Some(v) => format!("{}={}", KEYS[k], VALUES[v]),
                    None => KEYS[k].to_owned(),
                })
                .collect();
            texts.join(",")
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(4096))]

        /// A payload read by the direct path gives the columns the report path gives; one it
        /// gives up on leaves no value behind.
        #[test]
        fn direct_path_equals_the_report_path(
            first in payload(),
            second in payload(),
            shards in (0..4usize, 0..4usize),
        ) {
            let mut direct = Cmcd::default();
            if read_query(&first, &mut direct, &mut Cmcd::default()) {
                let general = via_report(cmcd::decode_query_payload(first.as_bytes(), Policy::Lenient));
                prop_assert_eq!(&direct, &general, "query {:?}", first);
            } else {
                prop_assert_eq!(&direct, &Cmcd::default(), "query {:?} left values", first);
            }

            // Two headers (the same shard twice, or two shards), and a header that is no shard.
            let names = ["CMCD-Object", "cmcd-request", "CMCD-Session", "CMCD-Status"];
            let headers = [(names[shards.0], first.as_str()), ("CMCD-Other", "br=1"), (names[shards.1], second.as_str())];
            let mut direct = Cmcd::default();
            if read_headers(&headers, &mut direct, &mut Cmcd::default()) {
                let general = via_report(cmcd::decode_headers(headers, Policy::Lenient));
                prop_assert_eq!(&direct, &general, "headers {:?}", headers);
            } else {
                prop_assert_eq!(&direct, &Cmcd::default(), "headers {:?} left values", headers);
            }
        }
    }

    #[test]
    fn player_payloads_take_the_direct_path() {
        let mut out = Cmcd::default();
        let v1 = r#"br=3200,bl=21300,cid="c1",d=4004,mtp=48100,nor="..%2Fseg_2.m4s",ot=v,pr=1.5,sf=h,sid="s1",st=v,su,tb=6000"#;
        assert!(read_query(v1, &mut out, &mut Cmcd::default()));
        assert_eq!((out.br, out.bl, out.tb), (Some(3200), Some(21300), Some(6000)));
        assert_eq!((out.sid.as_deref(), out.nor.as_deref()), (Some("s1"), Some("../seg_2.m4s")));
        assert_eq!((out.pr, out.su, out.ot), (Some(1.5), Some(true), Some(ObjectType::Video)));

        // v2: `br` before `ot` picks the audio member once `ot=a` is read.
        let mut out = Cmcd::default();
        assert!(read_query(
            "br=(3200;v 128;a),bsd=(100 250),ec=(\"e1\" \"e2\"),ot=a,v=2",
            &mut out,
            &mut Cmcd::default()
        ));
        assert_eq!((out.br, out.bsd, out.ec.as_deref()), (Some(128), Some(350), Some("e1,e2")));

        // `v` > 2: the payload is read, and rejected as the general path rejects it.
        let mut out = Cmcd::default();
        assert!(read_query("br=3200,v=3", &mut out, &mut Cmcd::default()));
        assert_eq!((out.br, out.error), (None, Some("unsupported_version")));

        // A key in two headers is left to the general path (the later value wins there).
        let mut out = Cmcd { raw: Some("kept".into()), ..Cmcd::default() };
        assert!(!read_headers(
            &[("CMCD-Object", "br=1"), ("CMCD-Request", "br=2")],
            &mut out,
            &mut Cmcd::default()
        ));
        assert_eq!(out, Cmcd { raw: Some("kept".into()), ..Cmcd::default() });
    }
}
