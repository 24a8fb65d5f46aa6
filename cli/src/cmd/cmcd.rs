//! `smd-cli cmcd decode | encode | validate`: CMCD payloads in, typed reports, canonical
//! encodings and conformance reports out.
//!
//! JSON values use the shared vector file's encoding: Integer → number, Decimal →
//! `{"decimal": n}`, String → string, Token → `{"token": t}`, Boolean → bool, Inner List →
//! array, anything with parameters → `{"value": …, "params": {…}}` (Byte Sequence →
//! `{"binary": base64}`, which the vector file never needs).

use std::borrow::Cow;
use std::io::Read as _;
use std::process::ExitCode;

use anyhow::{Context as _, bail};
use clap::{Args, Subcommand, ValueEnum};
use serde_json::{Map, Value as Json, json};
use token_core::cmcd::sf::{self, BareItem, Dictionary, InnerList, Item, Member};
use token_core::cmcd::validate::{self, Issue, Mode};
use token_core::cmcd::{self, Policy, Report, Value, Version};

/// `smd-cli cmcd` subcommands.
#[derive(Debug, Subcommand)]
pub(crate) enum CmcdCommand {
    /// Decode a CMCD payload: the typed report, dropped keys with reasons, unknown and custom
    /// keys, leniencies. Exits 1 when the payload is rejected.
    Decode(DecodeArgs),
    /// Encode CMCD data, given as JSON in the vector value encoding, canonically.
    #[command(disable_version_flag = true)]
    Encode(EncodeArgs),
    /// Report every conformance issue (type, token, length, shard, rounding, order, encoding).
    /// Exits 1 when any issue is an error.
    Validate(ValidateArgs),
}

/// Input forms.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum Form {
    /// Guess from the input: `CMCD-*:` lines → header, `http(s)://` → url, `CMCD=` → query,
    /// several lines → body, otherwise dict.
    Auto,
    /// A URL whose query holds `CMCD=`.
    Url,
    /// A query string holding `CMCD=`.
    Query,
    /// `Name: value` lines (CRLF or LF).
    Header,
    /// One bare dictionary (a header value or a body line).
    Dict,
    /// An event-mode body: one dictionary per line.
    Body,
}

/// Decoding policies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum PolicyArg {
    /// RFC 8941 and CTA-5004 exactly.
    Strict,
    /// Also accept known player mistakes, and count them.
    Lenient,
}

/// Arguments of `cmcd decode`.
#[derive(Debug, Args)]
pub(crate) struct DecodeArgs {
    /// Input form.
    #[arg(long, value_enum, default_value_t = Form::Auto)]
    form: Form,
    /// Decoding policy.
    #[arg(long, value_enum, default_value_t = PolicyArg::Strict)]
    policy: PolicyArg,
    /// Print the Structured-Field-level map (strict RFC 8941, no CMCD typing).
    #[arg(long)]
    raw: bool,
    /// The payload, or `-` for standard input.
    input: String,
}

/// Output forms of `cmcd encode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum EncodeForm {
    /// A bare dictionary.
    Dict,
    /// `CMCD=` followed by the percent-encoded dictionary.
    Query,
    /// `CMCD-*: value` lines.
    Header,
    /// Event-mode body lines (DATA may be an array of objects).
    Body,
}

/// Arguments of `cmcd encode`.
#[derive(Debug, Args)]
pub(crate) struct EncodeArgs {
    /// Output form.
    #[arg(long, value_enum, default_value_t = EncodeForm::Dict)]
    form: EncodeForm,
    /// CMCD version to write (default: the data's `v`, else 1).
    #[arg(long, value_parser = clap::value_parser!(u8).range(1..=2))]
    version: Option<u8>,
    /// The data as a JSON object (vector value encoding), or `-` for standard input. The global
    /// `--json` flag may precede it; the output is always the encoded payload.
    data: String,
}

/// Arguments of `cmcd validate`.
#[derive(Debug, Args)]
pub(crate) struct ValidateArgs {
    /// Input form.
    #[arg(long, value_enum, default_value_t = Form::Auto)]
    form: Form,
    /// Reporting mode of a `dict` input (a `body` is always event mode).
    #[arg(long, value_enum, default_value_t = ModeArg::Request)]
    mode: ModeArg,
    /// The payload, or `-` for standard input.
    input: String,
}

/// Reporting modes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum ModeArg {
    /// Query or headers of a media request.
    Request,
    /// A record of an event-mode POST body.
    Event,
}

/// Runs a `cmcd` subcommand.
pub(crate) fn run(cmd: CmcdCommand, json: bool) -> anyhow::Result<ExitCode> {
    let mut out = std::io::stdout().lock();
    match cmd {
        CmcdCommand::Decode(args) => decode(&args, json, &mut out),
        CmcdCommand::Encode(args) => encode(&args, &mut out),
        CmcdCommand::Validate(args) => validate(&args, json, &mut out),
    }
}

fn read_input(arg: &str) -> anyhow::Result<String> {
    if arg != "-" {
        return Ok(arg.to_owned());
    }
    let mut buf = String::new();
    std::io::stdin().read_to_string(&mut buf).context("reading standard input")?;
    let trimmed = buf.trim_end_matches(['\r', '\n']).len();
    buf.truncate(trimmed);
    Ok(buf)
}

fn guess_form(input: &str) -> Form {
    let header_line = |l: &str| {
        l.split_once(':').is_some_and(|(n, _)| cmcd::Shard::from_header_name(n.trim()).is_some())
    };
    if input.lines().any(header_line) {
        Form::Header
    } else if input.starts_with("http://") || input.starts_with("https://") {
        Form::Url
    } else if input.contains("CMCD=") || input.starts_with('?') {
        Form::Query
    } else if input.trim_end().contains('\n') {
        Form::Body
    } else {
        Form::Dict
    }
}

fn resolve(form: Form, input: &str) -> Form {
    if form == Form::Auto { guess_form(input) } else { form }
}

fn policy(arg: PolicyArg) -> Policy {
    match arg {
        PolicyArg::Strict => Policy::Strict,
        PolicyArg::Lenient => Policy::Lenient,
    }
}

fn error_json(err: &cmcd::Error) -> Json {
    json!({ "error": err.code(), "offset": err.offset() })
}

fn decode(
    args: &DecodeArgs,
    json: bool,
    out: &mut impl std::io::Write,
) -> anyhow::Result<ExitCode> {
    let input = read_input(&args.input)?;
    let form = resolve(args.form, &input);
    if args.raw {
        return decode_raw(&input, form, json, out);
    }
    let policy = policy(args.policy);
    let result = match form {
        Form::Body => cmcd::decode_body(&input, policy),
        Form::Url => cmcd::decode_url(&input, policy).map(|r| vec![r]),
        Form::Query => cmcd::decode_query(&input, policy).map(|r| vec![r]),
        Form::Header => cmcd::decode_headers(cmcd::header_lines(&input), policy).map(|r| vec![r]),
        Form::Dict | Form::Auto => cmcd::decode_dict(&input, policy).map(|r| vec![r]),
    };
    let reports = match result {
        Ok(reports) => reports,
        Err(err) => return rejected(&err, json, out),
    };
    if json {
        let mut docs: Vec<Json> = reports.iter().map(report_json).collect();
        let doc =
            if form == Form::Body { Json::Array(docs) } else { docs.pop().unwrap_or(Json::Null) };
        writeln!(out, "{}", serde_json::to_string_pretty(&doc)?)?;
    } else {
        for (i, report) in reports.iter().enumerate() {
            if form == Form::Body {
                writeln!(out, "# record {i}")?;
            }
            write_report_text(report, out)?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Prints a whole-payload rejection (JSON `{"error", "offset"}` or text) and exits 1.
fn rejected(
    err: &cmcd::Error,
    json: bool,
    out: &mut impl std::io::Write,
) -> anyhow::Result<ExitCode> {
    if json {
        writeln!(out, "{}", error_json(err))?;
    } else {
        writeln!(out, "rejected ({}): {err}", err.code())?;
    }
    Ok(ExitCode::from(1))
}

fn decode_raw(
    input: &str,
    form: Form,
    json: bool,
    out: &mut impl std::io::Write,
) -> anyhow::Result<ExitCode> {
    let result: Result<Vec<Dictionary<'static>>, cmcd::Error> = match form {
        Form::Url => cmcd::query_dictionary(cmcd::transport::url_query(input)).map(|d| vec![d]),
        Form::Query => cmcd::query_dictionary(input).map(|d| vec![d]),
        Form::Header => cmcd::header_dictionary(cmcd::header_lines(input)).map(|d| vec![d]),
        Form::Body => body_dictionaries(input),
        Form::Dict | Form::Auto => raw_dict(input).map(|d| vec![d]),
    };
    let dicts = match result {
        Ok(d) => d,
        Err(err) => return rejected(&err, json, out),
    };
    if json {
        let mut docs: Vec<Json> = dicts.iter().map(dict_json).collect();
        let doc =
            if form == Form::Body { Json::Array(docs) } else { docs.pop().unwrap_or(Json::Null) };
        writeln!(out, "{doc}")?;
    } else {
        for dict in &dicts {
            writeln!(out, "{}", sf::serialize_dictionary(dict)?)?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn raw_dict(input: &str) -> Result<Dictionary<'static>, cmcd::Error> {
    if input.len() > cmcd::MAX_PAYLOAD_LEN {
        return Err(cmcd::Error::TooLarge { len: input.len(), limit: cmcd::MAX_PAYLOAD_LEN });
    }
    Ok(sf::parse_dictionary(input)?.into_owned())
}

fn body_dictionaries(body: &str) -> Result<Vec<Dictionary<'static>>, cmcd::Error> {
    if body.len() > cmcd::MAX_BODY_LEN {
        return Err(cmcd::Error::TooLarge { len: body.len(), limit: cmcd::MAX_BODY_LEN });
    }
    let mut dicts = Vec::new();
    let mut offset = 0;
    for line in body.split('\n') {
        let start = offset;
        offset += line.len() + 1;
        let record = line.trim_end_matches('\r');
        let lead = record.len() - record.trim_start_matches(' ').len();
        let record = record.trim_matches(' ');
        if record.is_empty() {
            continue;
        }
        let dict = raw_dict(record).map_err(|e| match e {
            cmcd::Error::Syntax(se) => {
                cmcd::Error::Syntax(sf::Error::new(se.kind(), se.offset() + start + lead))
            }
            other => other,
        })?;
        dicts.push(dict);
    }
    Ok(dicts)
}

// --- JSON value encoding ------------------------------------------------------------------

fn bare_json(bare: &BareItem<'_>) -> Json {
    match bare {
        BareItem::Integer(n) => json!(n),
        BareItem::Decimal(d) => json!({ "decimal": d.to_f64() }),
        BareItem::String(s) => json!(s),
        BareItem::Token(t) => json!({ "token": t }),
        BareItem::ByteSequence(b) => json!({ "binary": b }),
        BareItem::Boolean(b) => json!(b),
    }
}

fn with_params<'a>(value: Json, params: impl IntoIterator<Item = (&'a str, Json)>) -> Json {
    let params: Map<String, Json> = params.into_iter().map(|(k, v)| (k.to_owned(), v)).collect();
    if params.is_empty() { value } else { json!({ "value": value, "params": params }) }
}

fn item_json(item: &Item<'_>) -> Json {
    with_params(bare_json(&item.bare), item.params.iter().map(|(k, v)| (k.as_ref(), bare_json(v))))
}

fn member_json(member: &Member<'_>) -> Json {
    match member {
        Member::Item(item) => item_json(item),
        Member::InnerList(list) => with_params(
            Json::Array(list.items.iter().map(item_json).collect()),
            list.params.iter().map(|(k, v)| (k.as_ref(), bare_json(v))),
        ),
    }
}

fn dict_json(dict: &Dictionary<'_>) -> Json {
    Json::Object(dict.iter().map(|(k, m)| (k.to_owned(), member_json(m))).collect())
}

fn token(t: &str) -> Json {
    json!({ "token": t })
}

fn value_json(value: &Value) -> Json {
    match value {
        Value::Boolean(b) => json!(b),
        Value::Integer(n) => json!(n),
        Value::Decimal(d) => json!({ "decimal": d.to_f64() }),
        Value::String(s) => json!(s),
        Value::ObjectType(t) => token(t.as_str()),
        Value::StreamingFormat(t) => token(t.as_str()),
        Value::StreamType(t) => token(t.as_str()),
        Value::PlayerState(t) => token(t.as_str()),
        Value::EventType(t) => token(t.as_str()),
        Value::Samples(s) => Json::Array(
            s.iter()
                .map(|s| with_params(json!(s.value), s.object.map(|o| (o.as_str(), json!(true)))))
                .collect(),
        ),
        Value::Strings(list) => json!(list),
        Value::NextObjects(list) => Json::Array(
            list.iter()
                .map(|n| with_params(json!(n.url), n.range.as_ref().map(|r| ("r", json!(r)))))
                .collect(),
        ),
        other => json!(format!("{other:?}")),
    }
}

fn report_json(report: &Report) -> Json {
    let values: Map<String, Json> =
        report.iter().map(|(k, v)| (k.name().to_owned(), value_json(v))).collect();
    let custom: Map<String, Json> =
        report.custom().map(|(k, m)| (k.to_owned(), member_json(m))).collect();
    let unknown: Map<String, Json> =
        report.unknown().map(|(k, m)| (k.to_owned(), member_json(m))).collect();
    let dropped: Vec<Json> = report
        .dropped()
        .iter()
        .map(|d| json!({ "key": d.key(), "reason": d.reason().code() }))
        .collect();
    let leniencies: Map<String, Json> =
        report.leniencies().iter().map(|(l, n)| (l.code().to_owned(), json!(n))).collect();
    json!({
        "version": report.version().number(),
        "values": values,
        "custom": custom,
        "unknown": unknown,
        "dropped": dropped,
        "leniencies": leniencies,
    })
}

fn json_bare(v: &Json) -> anyhow::Result<BareItem<'static>> {
    Ok(match v {
        Json::Bool(b) => BareItem::Boolean(*b),
        Json::Number(n) => match n.as_i64() {
            Some(i) => BareItem::Integer(i),
            None => bail!("{n} is not an integer; write decimals as {{\"decimal\": {n}}}"),
        },
        Json::String(s) => BareItem::String(Cow::Owned(s.clone())),
        Json::Object(o) => match (o.get("token"), o.get("decimal"), o.get("binary")) {
            (Some(Json::String(t)), None, None) => BareItem::Token(Cow::Owned(t.clone())),
            (None, Some(d), None) => {
                let f = d.as_f64().with_context(|| format!("{d} is not a number"))?;
                #[allow(clippy::cast_possible_truncation)] // range-checked just below
                let t = (f * 1000.0).round() as i64;
                BareItem::Decimal(
                    sf::Decimal::from_thousandths(t)
                        .with_context(|| format!("{d} is out of range"))?,
                )
            }
            (None, None, Some(Json::String(b))) => BareItem::ByteSequence(Cow::Owned(b.clone())),
            _ => bail!("{v} is not a value of the vector encoding"),
        },
        other => bail!("{other} is not a bare item"),
    })
}

fn json_params(v: Option<&Json>) -> anyhow::Result<sf::Parameters<'static>> {
    match v {
        None | Some(Json::Null) => Ok(Vec::new()),
        Some(Json::Object(o)) => {
            o.iter().map(|(k, v)| Ok((Cow::Owned(k.clone()), json_bare(v)?))).collect()
        }
        Some(other) => bail!("params must be an object, got {other}"),
    }
}

fn json_item(v: &Json) -> anyhow::Result<Item<'static>> {
    match v {
        Json::Object(o) if o.contains_key("value") => {
            Ok(Item { bare: json_bare(&o["value"])?, params: json_params(o.get("params"))? })
        }
        other => Ok(Item::new(json_bare(other)?)),
    }
}

fn json_member(v: &Json) -> anyhow::Result<Member<'static>> {
    match v {
        Json::Array(items) => Ok(Member::InnerList(InnerList {
            items: items.iter().map(json_item).collect::<anyhow::Result<_>>()?,
            params: Vec::new(),
        })),
        Json::Object(o) if o.get("value").is_some_and(Json::is_array) => {
            let Member::InnerList(mut list) = json_member(&o["value"])? else {
                bail!("unreachable")
            };
            list.params = json_params(o.get("params"))?;
            Ok(Member::InnerList(list))
        }
        other => Ok(Member::Item(json_item(other)?)),
    }
}

fn json_dict(v: &Json) -> anyhow::Result<Dictionary<'static>> {
    let Json::Object(o) = v else { bail!("CMCD data must be a JSON object, got {v}") };
    let mut dict = Dictionary::new();
    for (k, m) in o {
        dict.insert(k.clone(), json_member(m).with_context(|| format!("key `{k}`"))?);
    }
    Ok(dict)
}

// --- subcommands --------------------------------------------------------------------------

fn encode(args: &EncodeArgs, out: &mut impl std::io::Write) -> anyhow::Result<ExitCode> {
    let data = read_input(&args.data)?;
    let parsed: Json = serde_json::from_str(&data).context("DATA is not JSON")?;
    let objects = match (&parsed, args.form) {
        (Json::Array(items), EncodeForm::Body) => items.iter().collect(),
        (Json::Array(_), _) => bail!("an array of objects is only accepted with --form body"),
        (other, _) => vec![other],
    };
    let mut reports = Vec::new();
    let mut rejected = false;
    for object in objects {
        let dict = json_dict(object)?;
        match Report::from_dictionary(&dict, Policy::Strict) {
            Ok(report) => {
                for d in report.dropped() {
                    errln!(
                        "smd-cli: `{}` cannot be encoded: {} ({})",
                        d.key(),
                        d.reason(),
                        d.reason().code()
                    );
                    rejected = true;
                }
                reports.push(report);
            }
            Err(err) => {
                errln!("smd-cli: {err} ({})", err.code());
                rejected = true;
            }
        }
    }
    if rejected {
        return Ok(ExitCode::from(1));
    }
    let version = match args.version {
        Some(2) => Version::V2,
        Some(_) => Version::V1,
        None => reports.first().map(Report::version).unwrap_or_default(),
    };
    match args.form {
        EncodeForm::Dict => {
            for r in &reports {
                writeln!(out, "{}", cmcd::encode(r, version))?;
            }
        }
        EncodeForm::Query => {
            for r in &reports {
                writeln!(out, "{}", cmcd::encode_query(r, version))?;
            }
        }
        EncodeForm::Header => {
            for r in &reports {
                for (shard, value) in cmcd::encode_headers(r, version) {
                    writeln!(out, "{}: {value}", shard.header_name())?;
                }
            }
        }
        EncodeForm::Body => writeln!(out, "{}", cmcd::encode_body(&reports, version))?,
    }
    Ok(ExitCode::SUCCESS)
}

fn validate(
    args: &ValidateArgs,
    json: bool,
    out: &mut impl std::io::Write,
) -> anyhow::Result<ExitCode> {
    let input = read_input(&args.input)?;
    let mode = match args.mode {
        ModeArg::Request => Mode::Request,
        ModeArg::Event => Mode::Event,
    };
    let issues = match resolve(args.form, &input) {
        Form::Url => validate::validate_query(cmcd::transport::url_query(&input)),
        Form::Query => validate::validate_query(&input),
        Form::Header => validate::validate_headers(cmcd::header_lines(&input)),
        Form::Body => validate::validate_body(&input),
        Form::Dict | Form::Auto => validate::validate_dict(&input, mode),
    };
    let valid = !validate::has_errors(&issues);
    if json {
        let list: Vec<Json> = issues.iter().map(issue_json).collect();
        writeln!(
            out,
            "{}",
            serde_json::to_string_pretty(&json!({ "valid": valid, "issues": list }))?
        )?;
    } else {
        for issue in &issues {
            let record = issue.record.map(|r| format!("record {r}: ")).unwrap_or_default();
            let key = issue.key.as_deref().map(|k| format!(" [{k}]")).unwrap_or_default();
            writeln!(
                out,
                "{:<7} {}{}{key}: {}",
                issue.severity.as_str(),
                record,
                issue.code,
                issue.message
            )?;
        }
        writeln!(out, "{}", if valid { "valid" } else { "invalid" })?;
    }
    Ok(if valid { ExitCode::SUCCESS } else { ExitCode::from(1) })
}

fn issue_json(issue: &Issue) -> Json {
    json!({
        "severity": issue.severity.as_str(),
        "code": issue.code,
        "key": issue.key,
        "message": issue.message,
        "offset": issue.offset,
        "record": issue.record,
    })
}

fn value_text(value: &Value) -> String {
    let list = |items: Vec<String>| format!("({})", items.join(" "));
    match value {
        Value::Boolean(b) => b.to_string(),
        Value::Integer(n) => n.to_string(),
        Value::Decimal(d) => d.to_string(),
        Value::String(s) => format!("{s:?}"),
        Value::ObjectType(t) => t.to_string(),
        Value::StreamingFormat(t) => t.to_string(),
        Value::StreamType(t) => t.to_string(),
        Value::PlayerState(t) => t.to_string(),
        Value::EventType(t) => t.to_string(),
        Value::Samples(s) => list(
            s.iter()
                .map(|s| {
                    s.object.map_or_else(|| s.value.to_string(), |o| format!("{};{o}", s.value))
                })
                .collect(),
        ),
        Value::Strings(v) => list(v.iter().map(|s| format!("{s:?}")).collect()),
        Value::NextObjects(v) => list(
            v.iter()
                .map(|n| {
                    n.range
                        .as_ref()
                        .map_or_else(|| format!("{:?}", n.url), |r| format!("{:?};r={r:?}", n.url))
                })
                .collect(),
        ),
        other => format!("{other:?}"),
    }
}

/// A member as it follows `key=` on the wire (`?1` for a bare key).
fn member_text(member: &Member<'_>) -> String {
    let text = sf::serialize_member(member).unwrap_or_default();
    match text.strip_prefix('=') {
        Some(value) => value.to_owned(),
        None => format!("?1{text}"),
    }
}

fn write_report_text(report: &Report, out: &mut impl std::io::Write) -> anyhow::Result<()> {
    writeln!(out, "{:<8} {}", "version", report.version().number())?;
    for (key, value) in report.iter() {
        writeln!(out, "{:<8} {}", key.name(), value_text(value))?;
    }
    for (name, member) in report.custom() {
        writeln!(out, "{name:<8} {}  (custom)", member_text(member))?;
    }
    for (name, member) in report.unknown() {
        writeln!(out, "{name:<8} {}  (unknown, ignored)", member_text(member))?;
    }
    for d in report.dropped() {
        writeln!(out, "dropped  {}: {} ({})", d.key(), d.reason(), d.reason().code())?;
    }
    for (leniency, n) in report.leniencies().iter() {
        writeln!(out, "lenient  {} x{n}", leniency.code())?;
    }
    Ok(())
}
