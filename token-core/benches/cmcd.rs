//! CMCD decode throughput on `bench/cmcd/inputs.json`: realistic v1 query payloads and v2 header
//! sets, the same inputs `bench/cmcd/cml_decode.mjs` gives the SVTA JavaScript library
//! (`bench/cmcd/run.sh` runs both and prints the ratio).
//!
//! Each benchmark decodes the whole set once per iteration; it is registered twice, with
//! byte and with payload throughput, so criterion prints MB/s and payloads/s.

// A bench aborts on broken inputs; that is what `expect` is for here.
#![allow(clippy::expect_used)]

use std::hint::black_box;

use criterion::{Criterion, Throughput};
use serde_json::Value as Json;
use token_core::cmcd::{self, Policy, sf};

const INPUTS: &str = include_str!("../../bench/cmcd/inputs.json");

struct Inputs {
    query: Vec<String>,
    headers: Vec<Vec<(String, String)>>,
}

fn inputs() -> Inputs {
    let json: Json = serde_json::from_str(INPUTS).expect("inputs.json is JSON");
    let query = json["query"]
        .as_array()
        .expect("query array")
        .iter()
        .map(|q| q.as_str().expect("string").to_owned())
        .collect();
    let headers = json["headers"]
        .as_array()
        .expect("headers array")
        .iter()
        .map(|h| {
            h.as_object()
                .expect("header object")
                .iter()
                .map(|(k, v)| (k.clone(), v.as_str().expect("string").to_owned()))
                .collect()
        })
        .collect();
    Inputs { query, headers }
}

fn bench(c: &mut Criterion) {
    let inputs = inputs();
    let query_bytes: usize = inputs.query.iter().map(String::len).sum();
    let header_bytes: usize = inputs.headers.iter().flatten().map(|(k, v)| k.len() + v.len()).sum();

    let mut group = c.benchmark_group("cmcd_decode");
    let decode_queries = |queries: &[String]| {
        for q in queries {
            let report =
                cmcd::decode_query(black_box(q), Policy::Strict).expect("bench input decodes");
            black_box(report);
        }
    };
    let decode_headers = |sets: &[Vec<(String, String)>]| {
        for set in sets {
            let pairs = set.iter().map(|(k, v)| (k.as_str(), v.as_str()));
            let report = cmcd::decode_headers(black_box(pairs), Policy::Strict)
                .expect("bench input decodes");
            black_box(report);
        }
    };
    for (name, throughput) in [
        ("v1_query/bytes", Throughput::Bytes(query_bytes as u64)),
        ("v1_query/payloads", Throughput::Elements(inputs.query.len() as u64)),
    ] {
        group.throughput(throughput);
        group.bench_function(name, |b| b.iter(|| decode_queries(&inputs.query)));
    }
    for (name, throughput) in [
        ("v2_headers/bytes", Throughput::Bytes(header_bytes as u64)),
        ("v2_headers/payloads", Throughput::Elements(inputs.headers.len() as u64)),
    ] {
        group.throughput(throughput);
        group.bench_function(name, |b| b.iter(|| decode_headers(&inputs.headers)));
    }
    group.finish();

    // The Structured Field layer alone, on the percent-decoded query payloads.
    let decoded: Vec<String> = inputs
        .query
        .iter()
        .map(|q| {
            let dict = cmcd::query_dictionary(q).expect("bench input parses");
            sf::serialize_dictionary(&dict).expect("serializes")
        })
        .collect();
    let mut group = c.benchmark_group("sf_parse");
    group.throughput(Throughput::Bytes(decoded.iter().map(String::len).sum::<usize>() as u64));
    group.bench_function("v1_payloads", |b| {
        b.iter(|| {
            for d in &decoded {
                black_box(sf::parse_dictionary(black_box(d)).expect("parses"));
            }
        })
    });
    group.finish();
}

fn main() {
    let mut criterion = Criterion::default().configure_from_args();
    bench(&mut criterion);
    criterion.final_summary();
}
