//! The built-in live loop channel: the local stand-in for a MediaLive loop channel packaged as
//! HLS. A master playlist over a bitrate ladder, rolling media playlists that advance in real
//! time, and segments whose size matches their bitrate. Segment payloads are MPEG-TS-framed
//! filler, not decodable video: the simulated players measure throughput and buffer, they do not
//! decode. (The browser test uses real segments from a directory origin.)

use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper::header::{CACHE_CONTROL, CONTENT_LENGTH, CONTENT_TYPE, HeaderMap, HeaderValue};
use hyper::{Response, StatusCode};

use super::{Body, empty};

/// One rendition of the ladder.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Rendition {
    /// Peak bitrate in kbps.
    pub(crate) kbps: u32,
    pub(crate) width: u32,
    pub(crate) height: u32,
}

/// The default ladder (kbps): 400, 1200, 2500, 5000.
pub(crate) const LADDER: [Rendition; 4] = [
    Rendition { kbps: 400, width: 640, height: 360 },
    Rendition { kbps: 1200, width: 960, height: 540 },
    Rendition { kbps: 2500, width: 1280, height: 720 },
    Rendition { kbps: 5000, width: 1920, height: 1080 },
];

/// A live channel that started at `start` (seconds since the epoch).
#[derive(Debug)]
pub(crate) struct LoopChannel {
    prefix: String,
    start: Duration,
    segment_secs: u64,
    window: u64,
}

impl LoopChannel {
    /// A channel under `prefix` (e.g. `/live/`) whose sequence 0 began at `start`.
    pub(crate) fn new(prefix: &str, start: Duration, segment_secs: u64, window: u64) -> Self {
        let mut prefix = prefix.to_owned();
        if !prefix.ends_with('/') {
            prefix.push('/');
        }
        Self { prefix, start, segment_secs: segment_secs.max(1), window: window.max(3) }
    }

    /// The newest complete segment at `now`.
    fn live_edge(&self, now: Duration) -> u64 {
        now.saturating_sub(self.start).as_secs() / self.segment_secs
    }

    /// Serves the channel's playlists and segments.
    pub(crate) fn serve(&self, uri: &str, _headers: &HeaderMap, now: Duration) -> Response<Body> {
        let Some(rest) = uri.strip_prefix(&self.prefix) else {
            return empty(StatusCode::NOT_FOUND);
        };
        if rest == "master.m3u8" {
            return playlist(self.master());
        }
        let Some((variant, file)) = rest.split_once('/') else {
            return empty(StatusCode::NOT_FOUND);
        };
        let Some(index) = variant.strip_prefix('v').and_then(|v| v.parse::<usize>().ok()) else {
            return empty(StatusCode::NOT_FOUND);
        };
        let Some(rendition) = LADDER.get(index).copied() else {
            return empty(StatusCode::NOT_FOUND);
        };
        let edge = self.live_edge(now);
        if file == "index.m3u8" {
            return playlist(self.media(edge));
        }
        let Some(seq) = file
            .strip_prefix("seg_")
            .and_then(|f| f.strip_suffix(".ts"))
            .and_then(|n| n.parse::<u64>().ok())
        else {
            return empty(StatusCode::NOT_FOUND);
        };
        if seq > edge || seq + self.window * 4 < edge {
            return empty(StatusCode::NOT_FOUND);
        }
        segment(rendition, self.segment_secs, seq)
    }

    fn master(&self) -> String {
        let mut m = String::from("#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-INDEPENDENT-SEGMENTS\n");
        for (i, r) in LADDER.iter().enumerate() {
            m.push_str(&format!(
                "#EXT-X-STREAM-INF:BANDWIDTH={},RESOLUTION={}x{},CODECS=\"avc1.64001f,mp4a.40.2\"\nv{i}/index.m3u8\n",
                r.kbps * 1000,
                r.width,
                r.height
            ));
        }
        m
    }

    fn media(&self, edge: u64) -> String {
        let first = edge.saturating_sub(self.window - 1);
        let mut m = format!(
            "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:{}\n#EXT-X-MEDIA-SEQUENCE:{first}\n",
            self.segment_secs
        );
        for seq in first..=edge {
            m.push_str(&format!("#EXTINF:{}.000,\nseg_{seq}.ts\n", self.segment_secs));
        }
        m
    }
}

fn playlist(text: String) -> Response<Body> {
    let mut res = Response::new(Full::new(Bytes::from(text)));
    let h = res.headers_mut();
    h.insert(CONTENT_TYPE, HeaderValue::from_static("application/vnd.apple.mpegurl"));
    h.insert(CACHE_CONTROL, HeaderValue::from_static("max-age=1"));
    res
}

/// MPEG-TS-framed filler of `kbps × seconds` bits: 188-byte packets, sync byte 0x47, a
/// deterministic payload.
fn segment(r: Rendition, secs: u64, seq: u64) -> Response<Body> {
    let len = (u64::from(r.kbps) * 1000 / 8 * secs) as usize;
    let packets = len.div_ceil(188);
    let mut body = Vec::with_capacity(packets * 188);
    for p in 0..packets {
        body.push(0x47);
        body.extend(std::iter::repeat_n(((seq as usize + p) % 251) as u8, 187));
    }
    let mut res = Response::new(Full::new(Bytes::from(body)));
    let h = res.headers_mut();
    h.insert(CONTENT_TYPE, HeaderValue::from_static("video/mp2t"));
    h.insert(CONTENT_LENGTH, HeaderValue::from(packets * 188));
    h.insert(CACHE_CONTROL, HeaderValue::from_static("max-age=86400"));
    res
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn playlists_roll_in_real_time() {
        let ch = LoopChannel::new("/live", Duration::from_secs(1000), 2, 6);
        let at = |s| Duration::from_secs(s);
        assert!(ch.media(ch.live_edge(at(1011))).contains("#EXT-X-MEDIA-SEQUENCE:0\n"));
        let later = ch.media(ch.live_edge(at(1100)));
        assert!(
            later.contains("#EXT-X-MEDIA-SEQUENCE:45\n") && later.contains("seg_50.ts"),
            "{later}"
        );
        assert_eq!(
            ch.serve("/live/v1/seg_51.ts", &HeaderMap::new(), at(1100)).status(),
            StatusCode::NOT_FOUND
        );
        let seg = ch.serve("/live/v1/seg_50.ts", &HeaderMap::new(), at(1100));
        assert_eq!(seg.status(), StatusCode::OK);
        assert_eq!(seg.headers()[CONTENT_LENGTH], "300048");
        assert_eq!(
            ch.serve("/live/master.m3u8", &HeaderMap::new(), at(1100)).status(),
            StatusCode::OK
        );
        assert_eq!(
            ch.serve("/live/v9/index.m3u8", &HeaderMap::new(), at(1100)).status(),
            StatusCode::NOT_FOUND
        );
    }
}
