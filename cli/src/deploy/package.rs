//! Checks of the local code packages before `deploy apply` uploads them.
//!
//! The ingest function's architecture is a template setting (`[ingest] architecture`), while the
//! `bootstrap` in `ingest-lambda.zip` is whatever the build machine produced. A mismatch deploys
//! cleanly and then fails on every invocation (`Runtime.InvalidEntrypoint`), so it is caught
//! here, from the ELF header, before anything is uploaded. This module does not inspect the
//! edge package (`smd-cli edge package` builds it, architecture-neutral JavaScript and wasm).

use std::io::{Cursor, Read as _};

/// What the `bootstrap` of an ingest package is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Bootstrap {
    /// A 64-bit little-endian ELF executable for this Lambda architecture name.
    Elf(&'static str),
    /// A script (`#!`): it runs on either architecture.
    Script,
}

/// The `bootstrap` entry of a zip: its kind, or why it cannot be a `provided.al2023` package.
pub(crate) fn inspect_ingest_zip(zip_bytes: &[u8]) -> Result<Bootstrap, String> {
    let mut archive =
        zip::ZipArchive::new(Cursor::new(zip_bytes)).map_err(|e| format!("not a zip file: {e}"))?;
    let entry = archive
        .by_name("bootstrap")
        .map_err(|_| "the zip has no `bootstrap` at its root".to_owned())?;
    let mut head = Vec::with_capacity(20);
    entry.take(20).read_to_end(&mut head).map_err(|e| format!("cannot read bootstrap: {e}"))?;
    classify(&head)
}

fn classify(head: &[u8]) -> Result<Bootstrap, String> {
    if head.starts_with(b"#!") {
        return Ok(Bootstrap::Script);
    }
    if !head.starts_with(b"\x7fELF") {
        return Err("bootstrap is neither an ELF executable nor a `#!` script".to_owned());
    }
    let (Some(&class), Some(&data), Some(&[lo, hi])) = (head.get(4), head.get(5), head.get(18..20))
    else {
        return Err("bootstrap's ELF header is truncated".to_owned());
    };
    if (class, data) != (2, 1) {
        return Err("bootstrap is not a 64-bit little-endian ELF executable".to_owned());
    }
    let machine = u16::from_le_bytes([lo, hi]);
    match machine {
        0x3e => Ok(Bootstrap::Elf("x86_64")),
        0xb7 => Ok(Bootstrap::Elf("arm64")),
        other => Err(format!("bootstrap is built for ELF machine {other:#x}, not arm64 or x86_64")),
    }
}

/// Checks that the ingest zip can run as a function of `architecture`.
pub(crate) fn check_ingest_zip(zip_bytes: &[u8], architecture: &str) -> Result<(), String> {
    match inspect_ingest_zip(zip_bytes)? {
        Bootstrap::Script => Ok(()),
        Bootstrap::Elf(arch) if arch == architecture => Ok(()),
        Bootstrap::Elf(arch) => Err(format!(
            "its bootstrap is built for {arch} but [ingest] architecture = \"{architecture}\"; \
             rebuild it for {architecture} (scripts/build-ingest-lambda.sh) or set \
             architecture = \"{arch}\" in the deploy configuration"
        )),
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write as _;

    use super::*;

    fn zip_with(name: &str, body: &[u8]) -> Vec<u8> {
        let mut buf = Cursor::new(Vec::new());
        let mut z = zip::ZipWriter::new(&mut buf);
        z.start_file(name, zip::write::SimpleFileOptions::default()).unwrap();
        z.write_all(body).unwrap();
        z.finish().unwrap();
        buf.into_inner()
    }

    fn elf(machine: u16) -> Vec<u8> {
        let mut h = vec![0x7f, b'E', b'L', b'F', 2, 1, 1, 0];
        h.resize(18, 0);
        h.extend_from_slice(&machine.to_le_bytes());
        h.resize(64, 0);
        h
    }

    #[test]
    fn architectures_are_read_from_the_elf_header() {
        assert_eq!(
            inspect_ingest_zip(&zip_with("bootstrap", &elf(0xb7))),
            Ok(Bootstrap::Elf("arm64"))
        );
        assert_eq!(
            inspect_ingest_zip(&zip_with("bootstrap", &elf(0x3e))),
            Ok(Bootstrap::Elf("x86_64"))
        );
        assert_eq!(
            inspect_ingest_zip(&zip_with("bootstrap", b"#!/bin/sh\n")),
            Ok(Bootstrap::Script)
        );
    }

    #[test]
    fn a_mismatch_is_refused_with_both_names() {
        let zip = zip_with("bootstrap", &elf(0x3e));
        let e = check_ingest_zip(&zip, "arm64").unwrap_err();
        assert!(e.contains("x86_64") && e.contains("arm64"), "{e}");
        assert_eq!(check_ingest_zip(&zip, "x86_64"), Ok(()));
    }

    #[test]
    fn broken_packages_are_explained() {
        assert!(inspect_ingest_zip(b"not a zip").unwrap_err().contains("not a zip"));
        assert!(
            inspect_ingest_zip(&zip_with("main", &elf(0xb7)))
                .unwrap_err()
                .contains("no `bootstrap`")
        );
        assert!(
            inspect_ingest_zip(&zip_with("bootstrap", b"\x7fELF"))
                .unwrap_err()
                .contains("truncated")
        );
        assert!(
            inspect_ingest_zip(&zip_with("bootstrap", &elf(0x28))).unwrap_err().contains("0x28")
        );
        let mut elf32 = elf(0xb7);
        elf32[4] = 1;
        assert!(inspect_ingest_zip(&zip_with("bootstrap", &elf32)).unwrap_err().contains("64-bit"));
        let mut short = elf(0xb7);
        short.truncate(19);
        assert!(
            inspect_ingest_zip(&zip_with("bootstrap", &short)).unwrap_err().contains("truncated")
        );
        assert!(inspect_ingest_zip(&zip_with("bootstrap", b"MZ")).unwrap_err().contains("neither"));
    }
}
