//! A directory origin: content types for HLS/DASH/CMAF, single byte ranges, no path escapes.

use std::path::{Component, Path, PathBuf};

use bytes::Bytes;
use http_body_util::Full;
use hyper::header::{
    ACCEPT_RANGES, CACHE_CONTROL, CONTENT_LENGTH, CONTENT_RANGE, CONTENT_TYPE, HeaderMap,
    HeaderValue, RANGE,
};
use hyper::{Response, StatusCode};
use tokio::io::{AsyncReadExt as _, AsyncSeekExt as _};

use super::{Body, empty};

/// The content type CloudFront would pass through from a media origin.
pub(crate) fn content_type(path: &str) -> &'static str {
    let ext = path.rsplit_once('.').map(|(_, e)| e.to_ascii_lowercase()).unwrap_or_default();
    match ext.as_str() {
        "m3u8" => "application/vnd.apple.mpegurl",
        "mpd" => "application/dash+xml",
        "ts" => "video/mp2t",
        "m4s" | "mp4" | "cmfv" => "video/mp4",
        "m4a" | "cmfa" => "audio/mp4",
        "aac" => "audio/aac",
        "vtt" => "text/vtt",
        "html" => "text/html; charset=utf-8",
        "js" | "mjs" => "text/javascript",
        "json" => "application/json",
        "key" => "application/octet-stream",
        _ => "application/octet-stream",
    }
}

/// Maps a forwarded URI onto a file under `root`, refusing anything that could leave it:
/// percent-decoded `..`, `.`, backslashes, NUL, absolute components.
pub(crate) fn resolve(root: &Path, uri_path: &str) -> Option<PathBuf> {
    let decoded = percent_decode(uri_path)?;
    if decoded.contains('\\') || decoded.contains('\0') {
        return None;
    }
    let mut out = root.to_path_buf();
    for segment in decoded.split('/').filter(|s| !s.is_empty()) {
        match Path::new(segment).components().next() {
            Some(Component::Normal(_)) if Path::new(segment).components().count() == 1 => {
                out.push(segment)
            }
            _ => return None,
        }
    }
    Some(out)
}

fn percent_decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = s.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// A parsed `Range: bytes=…` header (one range; multi-range requests get the whole file).
fn parse_range(value: &str, len: u64) -> Option<Result<(u64, u64), ()>> {
    let spec = value.strip_prefix("bytes=")?;
    if spec.contains(',') {
        return None;
    }
    let (start, end) = spec.split_once('-')?;
    let range = match (start.trim(), end.trim()) {
        ("", suffix) => {
            let n: u64 = suffix.parse().ok()?;
            if n == 0 || len == 0 {
                return Some(Err(()));
            }
            (len.saturating_sub(n), len - 1)
        }
        (start, "") => (start.parse().ok()?, len.saturating_sub(1)),
        (start, end) => {
            let (s, e): (u64, u64) = (start.parse().ok()?, end.parse().ok()?);
            if e < s {
                return None;
            }
            (s, e.min(len.saturating_sub(1)))
        }
    };
    if range.0 >= len { Some(Err(())) } else { Some(Ok(range)) }
}

/// Serves `uri_path` from `root`.
pub(crate) async fn serve(
    root: &Path,
    uri_path: &str,
    headers: &HeaderMap,
    head: bool,
) -> Response<Body> {
    let Some(path) = resolve(root, uri_path) else { return empty(StatusCode::BAD_REQUEST) };
    let Ok(meta) = tokio::fs::metadata(&path).await else { return empty(StatusCode::NOT_FOUND) };
    if !meta.is_file() {
        return empty(StatusCode::NOT_FOUND);
    }
    let len = meta.len();
    let range = headers.get(RANGE).and_then(|v| v.to_str().ok()).and_then(|v| parse_range(v, len));
    let (status, start, end) = match range {
        Some(Err(())) => {
            let mut res = empty(StatusCode::RANGE_NOT_SATISFIABLE);
            if let Ok(v) = HeaderValue::from_str(&format!("bytes */{len}")) {
                res.headers_mut().insert(CONTENT_RANGE, v);
            }
            return res;
        }
        Some(Ok((s, e))) => (StatusCode::PARTIAL_CONTENT, s, e),
        None => (StatusCode::OK, 0, len.saturating_sub(1)),
    };
    let count = if len == 0 { 0 } else { end - start + 1 };
    let body = if head {
        Bytes::new()
    } else {
        match read_slice(&path, start, count).await {
            Ok(bytes) => bytes,
            Err(_) => return empty(StatusCode::INTERNAL_SERVER_ERROR),
        }
    };
    let mut res = Response::new(Full::new(body));
    *res.status_mut() = status;
    let h = res.headers_mut();
    h.insert(CONTENT_TYPE, HeaderValue::from_static(content_type(uri_path)));
    h.insert(ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    h.insert(CONTENT_LENGTH, HeaderValue::from(count));
    let cache = if uri_path.ends_with(".m3u8") || uri_path.ends_with(".mpd") {
        "max-age=1"
    } else {
        "max-age=86400"
    };
    h.insert(CACHE_CONTROL, HeaderValue::from_static(cache));
    if status == StatusCode::PARTIAL_CONTENT
        && let Ok(v) = HeaderValue::from_str(&format!("bytes {start}-{end}/{len}"))
    {
        h.insert(CONTENT_RANGE, v);
    }
    res
}

async fn read_slice(path: &Path, start: u64, count: u64) -> std::io::Result<Bytes> {
    let mut file = tokio::fs::File::open(path).await?;
    file.seek(std::io::SeekFrom::Start(start)).await?;
    let mut buf = Vec::with_capacity(usize::try_from(count).unwrap_or(0));
    file.take(count).read_to_end(&mut buf).await?;
    Ok(Bytes::from(buf))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolve_refuses_escapes() {
        let root = Path::new("/srv/media");
        assert_eq!(resolve(root, "/out/v1/a.ts"), Some(PathBuf::from("/srv/media/out/v1/a.ts")));
        for bad in
            ["/../etc/passwd", "/out/%2e%2e/x", "/a\\b", "/a%00b", "/./a", "/%2E%2E/%2E%2E/etc"]
        {
            assert_eq!(resolve(root, bad), None, "{bad}");
        }
    }

    #[test]
    fn ranges() {
        assert_eq!(parse_range("bytes=0-99", 1000), Some(Ok((0, 99))));
        assert_eq!(parse_range("bytes=900-", 1000), Some(Ok((900, 999))));
        assert_eq!(parse_range("bytes=-100", 1000), Some(Ok((900, 999))));
        assert_eq!(parse_range("bytes=990-2000", 1000), Some(Ok((990, 999))));
        assert_eq!(parse_range("bytes=1000-", 1000), Some(Err(())));
        assert_eq!(parse_range("bytes=5-1", 1000), None);
        assert_eq!(parse_range("bytes=0-1,5-6", 1000), None);
        assert_eq!(parse_range("items=0-1", 1000), None);
    }

    #[test]
    fn media_types() {
        assert_eq!(content_type("/a/index.m3u8"), "application/vnd.apple.mpegurl");
        assert_eq!(content_type("/a/manifest.mpd"), "application/dash+xml");
        assert_eq!(content_type("/a/seg.TS"), "video/mp2t");
        assert_eq!(content_type("/a/seg.m4s"), "video/mp4");
    }
}
