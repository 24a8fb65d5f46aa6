//! Shared plumbing for the subcommands: keys, clocks, files, JSON output.

use std::fs;
use std::io::Write as _;
use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::{Context as _, bail};
use token_core::UnixTime;
use token_core::token::KeySet;

/// Environment variable that may hold the key-set JSON instead of a `--keys` file.
pub(crate) const KEYS_ENV: &str = "SMD_KEYS";

/// Loads the key set from `--keys FILE`, else from `$SMD_KEYS`.
pub(crate) fn load_keys(path: Option<&Path>) -> anyhow::Result<KeySet> {
    let (text, origin) = match path {
        Some(path) => (read_text(path)?, path.display().to_string()),
        None => match std::env::var(KEYS_ENV) {
            Ok(text) if !text.trim().is_empty() => (text, format!("${KEYS_ENV}")),
            _ => bail!(
                "no keys: pass --keys keys.json or set {KEYS_ENV} to the key-set JSON (create one with `smd-cli keys generate --out keys.json`)"
            ),
        },
    };
    let keys = KeySet::from_json(&text).with_context(|| format!("reading keys from {origin}"))?;
    for key in keys.iter().filter(|k| k.is_weak()) {
        errln!(
            "smd-cli: warning: key {} is shorter than 32 bytes; generate a real one with `smd-cli keys generate`",
            key.kid()
        );
    }
    Ok(keys)
}

/// Reads a revocation list file.
pub(crate) fn load_revocations(path: &Path) -> anyhow::Result<token_core::token::RevocationList> {
    token_core::token::RevocationList::from_json(&read_text(path)?)
        .with_context(|| format!("{} is not a revocation list", path.display()))
}

/// The verifier `verify` and `edge serve` use: keys from `--keys`/`$SMD_KEYS`, profile, leeway,
/// and an optional revocation list.
pub(crate) fn build_verifier(
    keys: Option<&Path>,
    profile: token_core::token::Profile,
    leeway_secs: u32,
    revoked: Option<&Path>,
) -> anyhow::Result<token_core::token::Verifier> {
    let options = token_core::token::VerifyOptions { profile, leeway_secs, ..Default::default() };
    let mut verifier = token_core::token::Verifier::new(load_keys(keys)?).with_options(options);
    if let Some(path) = revoked {
        verifier = verifier.with_revocations(load_revocations(path)?);
    }
    Ok(verifier)
}

/// Reads a UTF-8 file (or stdin for `-`).
pub(crate) fn read_text(path: &Path) -> anyhow::Result<String> {
    if path == Path::new("-") {
        let mut text = String::new();
        std::io::Read::read_to_string(&mut std::io::stdin(), &mut text).context("reading stdin")?;
        return Ok(text);
    }
    fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))
}

/// Reads and parses a JSON file.
pub(crate) fn read_json(path: &Path) -> anyhow::Result<serde_json::Value> {
    let text = read_text(path)?;
    serde_json::from_str(&text).with_context(|| format!("{} is not valid JSON", path.display()))
}

/// Writes `contents` to `path` atomically (temporary file + rename). `secret` files are created
/// readable by the owner only.
pub(crate) fn write_atomic(path: &Path, contents: &[u8], secret: bool) -> anyhow::Result<()> {
    let dir = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or_else(|| Path::new("."));
    let name =
        path.file_name().with_context(|| format!("{} is not a file path", path.display()))?;
    let tmp = dir.join(format!(".{}.tmp{}", name.to_string_lossy(), std::process::id()));
    let mut options = fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    if secret {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(0o600);
    }
    #[cfg(not(unix))]
    let _ = secret;
    // Errors name the file asked for; the temporary name next to it is an implementation detail.
    let result = (|| {
        let mut file =
            options.open(&tmp).with_context(|| format!("creating {}", path.display()))?;
        file.write_all(contents).with_context(|| format!("writing {}", path.display()))?;
        file.sync_all().with_context(|| format!("syncing {}", path.display()))?;
        fs::rename(&tmp, path).with_context(|| format!("replacing {}", path.display()))
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

/// `--now` when given, else the system clock.
pub(crate) fn now(explicit: Option<i64>) -> UnixTime {
    match explicit {
        Some(secs) => UnixTime::from_secs(secs),
        None => {
            let millis = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis());
            UnixTime::from_millis(i64::try_from(millis).unwrap_or(i64::MAX))
        }
    }
}

/// Cryptographically random bytes from the operating system.
pub(crate) fn fill_random(buf: &mut [u8]) {
    if let Err(err) = getrandom::fill(buf) {
        // Without an OS entropy source no key or session id can be made safely.
        errln!("smd-cli: error: the operating system's random source failed: {err}");
        std::process::exit(2);
    }
}

/// Parses a duration: `90`, `90s`, `30m`, `6h`, `7d` (also with a leading `+`).
pub(crate) fn parse_duration_secs(text: &str) -> anyhow::Result<i64> {
    let t = text.trim().trim_start_matches('+');
    let (digits, scale) = match t.as_bytes().last() {
        Some(b's') => (&t[..t.len() - 1], 1),
        Some(b'm') => (&t[..t.len() - 1], 60),
        Some(b'h') => (&t[..t.len() - 1], 3600),
        Some(b'd') => (&t[..t.len() - 1], 86_400),
        _ => (t, 1),
    };
    let n: i64 = digits
        .parse()
        .with_context(|| format!("invalid duration {text:?}: use e.g. 90s, 30m, 6h, 7d"))?;
    n.checked_mul(scale)
        .filter(|v| *v > 0)
        .with_context(|| format!("invalid duration {text:?}: must be positive"))
}

/// RFC 3339 UTC text of an epoch second, for humans.
pub(crate) fn rfc3339(secs: i64) -> String {
    let (y, m, d) = UnixTime::from_secs(secs).utc_date();
    let s = secs.rem_euclid(86_400);
    format!("{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z", s / 3600, s % 3600 / 60, s % 60)
}

/// Prints a JSON value on one line.
pub(crate) fn print_json(value: &serde_json::Value) -> anyhow::Result<()> {
    // Serialized first, so a write error stays an `io::Error` (a closed pipe is not an error).
    let text = serde_json::to_string(value)?;
    writeln!(std::io::stdout().lock(), "{text}")?;
    Ok(())
}

/// Parses `name: value` (curl's `-H` form) into a lower-cased name and a trimmed value.
pub(crate) fn parse_header(text: &str) -> anyhow::Result<(String, String)> {
    let (name, value) =
        text.split_once(':').with_context(|| format!("header {text:?} is not `name: value`"))?;
    let name = name.trim();
    if name.is_empty() || !name.bytes().all(|b| b.is_ascii_graphic()) {
        bail!("header {text:?} has an invalid name");
    }
    Ok((name.to_ascii_lowercase(), value.trim().to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration_secs("90").unwrap(), 90);
        assert_eq!(parse_duration_secs("+3h").unwrap(), 10_800);
        assert_eq!(parse_duration_secs("7d").unwrap(), 604_800);
        assert!(parse_duration_secs("0").is_err());
        assert!(parse_duration_secs("abc").is_err());
    }

    #[test]
    fn timestamps() {
        assert_eq!(rfc3339(1_700_010_800), "2023-11-15T01:13:20Z");
    }
}
