//! A file written past the page cache (`O_DIRECT` on Linux), for the local-directory sink.
//!
//! A lake's files are written once, front to back, and never read back by the writer. Written
//! the ordinary way, every byte is first copied into a page of the kernel's page cache, and
//! the disk is written from there later. With `O_DIRECT` the device takes the bytes straight
//! from this writer's buffer. On the development machine (a virtual machine whose kernel hands
//! freed memory back to its host) the copy into fresh cache pages cost 8.5 µs per 4 KiB page,
//! 5.7 % of an `ingest file` run's CPU samples; BENCHMARKS.md has the measurement.
//!
//! Direct writes need the buffer's address, the file offset and the length to be multiples of
//! the device's block; [`BLOCK`] (4096 bytes) covers devices of 512- and 4096-byte blocks. So
//! the writer collects bytes in an aligned buffer of [`BUFFER`] bytes and writes whole blocks;
//! [`DirectFile::finish`] writes the last, partial block padded with zeros and cuts the file
//! back to its length. A filesystem that refuses direct writes, when the file is opened or at
//! any write (`EINVAL`), gets the rest of the bytes written the ordinary way from the offset
//! reached: the file's bytes are the same either way.
//!
//! What this does not do: make the file durable (no `fsync`, as before: the sink's rename
//! makes a file appear whole, not survive a crash), or read anything.

use std::fs;
use std::io::{self, Seek as _, SeekFrom, Write};
use std::path::{Path, PathBuf};

/// The alignment of the buffer, of every write's offset and of every write's length.
pub(crate) const BLOCK: usize = 4096;

/// Bytes collected before a write (a multiple of [`BLOCK`]).
pub(crate) const BUFFER: usize = 1 << 20;

/// A new file, written through an aligned buffer with direct writes where the filesystem takes
/// them. Bytes reach the file in whole blocks; [`finish`](Self::finish) writes the rest.
#[derive(Debug)]
pub(crate) struct DirectFile {
    file: fs::File,
    path: PathBuf,
    /// Direct writes are in use (false from the first refusal on, and off Linux).
    direct: bool,
    /// `BUFFER + BLOCK` bytes, of which `BUFFER` from `start` are block-aligned.
    buffer: Vec<u8>,
    start: usize,
    /// Bytes of the aligned region holding data not yet written.
    filled: usize,
    /// Bytes already in the file.
    written: u64,
}

impl DirectFile {
    /// Creates (or truncates) `path`, for direct writes where the filesystem allows them.
    pub(crate) fn create(path: &Path) -> io::Result<Self> {
        Self::create_with(path, true)
    }

    /// [`create`](Self::create) with direct writes asked for or not (`false` writes through
    /// the page cache, with the same buffer).
    pub(crate) fn create_with(path: &Path, direct: bool) -> io::Result<Self> {
        let buffer = vec![0u8; BUFFER + BLOCK];
        let start = buffer.as_ptr().align_offset(BLOCK);
        let aligned = start < BLOCK;
        let (file, direct) = match open_direct(path, direct && aligned) {
            Some(file) => (file, true),
            None => (fs::File::create(path)?, false),
        };
        let start = if aligned { start } else { 0 };
        Ok(Self { file, path: path.to_owned(), direct, buffer, start, filled: 0, written: 0 })
    }

    /// Whether the writes so far went past the page cache.
    #[cfg(test)]
    pub(crate) fn is_direct(&self) -> bool {
        self.direct
    }

    /// Writes what is buffered (the last block padded when the file is open for direct
    /// writes, then the file cut back to its length) and returns the file.
    ///
    /// # Errors
    ///
    /// The write's or the truncation's error.
    pub(crate) fn finish(mut self) -> io::Result<fs::File> {
        let length = self.written + self.filled as u64;
        if self.direct && !self.filled.is_multiple_of(BLOCK) {
            let padded = self.filled.next_multiple_of(BLOCK);
            let from = self.start + self.filled;
            self.buffer[from..self.start + padded].fill(0);
            self.write_region(padded)?;
            self.file.set_len(length)?;
        } else {
            self.write_region(self.filled)?;
        }
        self.filled = 0;
        Ok(self.file)
    }

    /// Writes the region's whole blocks and moves the rest to its front.
    fn drain(&mut self) -> io::Result<()> {
        let whole = self.filled / BLOCK * BLOCK;
        if whole == 0 {
            return Ok(());
        }
        self.write_region(whole)?;
        let (start, filled) = (self.start, self.filled);
        self.buffer.copy_within(start + whole..start + filled, start);
        self.filled -= whole;
        Ok(())
    }

    /// Writes the region's first `len` bytes at the file's end; on a refused direct write,
    /// reopens the file for ordinary writes and goes on from where the direct writes stopped.
    fn write_region(&mut self, len: usize) -> io::Result<()> {
        let mut done = 0;
        while done < len {
            let range = self.start + done..self.start + len;
            match self.file.write(&self.buffer[range]) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(n) => {
                    done += n;
                    self.written += n as u64;
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) if self.direct && e.kind() == io::ErrorKind::InvalidInput => {
                    self.fall_back()?;
                }
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    /// From here on, ordinary writes: the file opened again without `O_DIRECT`, at the offset
    /// reached.
    pub(crate) fn fall_back(&mut self) -> io::Result<()> {
        let mut file = fs::OpenOptions::new().write(true).open(&self.path)?;
        file.seek(SeekFrom::Start(self.written))?;
        self.file = file;
        self.direct = false;
        Ok(())
    }
}

impl Write for DirectFile {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = buf.len().min(BUFFER - self.filled);
        let at = self.start + self.filled;
        self.buffer[at..at + n].copy_from_slice(&buf[..n]);
        self.filled += n;
        if self.filled == BUFFER {
            self.drain()?;
        }
        Ok(n)
    }

    /// Writes the whole blocks buffered; a partial last block stays for the next write or
    /// [`finish`](DirectFile::finish).
    fn flush(&mut self) -> io::Result<()> {
        self.drain()
    }
}

/// `path` created for direct writes, or `None` when not asked, not on Linux, or refused.
fn open_direct(path: &Path, asked: bool) -> Option<fs::File> {
    #[cfg(target_os = "linux")]
    if asked {
        use std::os::unix::fs::OpenOptionsExt as _;
        return fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .custom_flags(libc::O_DIRECT)
            .open(path)
            .ok();
    }
    let _ = (path, asked);
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scratch::Scratch;
    use proptest::prelude::*;

    /// A scratch directory, created.
    fn scratch(name: &str) -> Scratch {
        let scratch = Scratch::new(&format!("direct-file-{name}"));
        fs::create_dir_all(&scratch.0).unwrap();
        scratch
    }

    fn pattern(len: usize, seed: u8) -> Vec<u8> {
        (0..len).map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed)).collect()
    }

    /// Writes `data` in pieces of the given sizes (cycled), with a flush after every
    /// `flush_every` pieces, and returns the file's bytes.
    fn round_trip(path: &Path, direct: bool, data: &[u8], pieces: &[usize]) -> Vec<u8> {
        let mut file = DirectFile::create_with(path, direct).unwrap();
        let mut at = 0;
        for (i, size) in pieces.iter().cycle().enumerate() {
            if at == data.len() {
                break;
            }
            let end = (at + size.max(&1)).min(data.len());
            file.write_all(&data[at..end]).unwrap();
            at = end;
            if i % 7 == 6 {
                file.flush().unwrap();
            }
        }
        drop(file.finish().unwrap());
        fs::read(path).unwrap()
    }

    #[test]
    fn lengths_around_the_block_and_the_buffer_read_back_equal() {
        let scratch = scratch("lengths");
        let path = scratch.0.join("f");
        for len in
            [0, 1, BLOCK - 1, BLOCK, BLOCK + 1, BUFFER - 1, BUFFER, BUFFER + 1, 3 * BUFFER + 17]
        {
            let data = pattern(len, 7);
            for direct in [true, false] {
                for pieces in [&[1_000_000][..], &[1, 4095, 4097, 65_536]] {
                    let back = round_trip(&path, direct, &data, pieces);
                    assert_eq!(back.len(), len, "len {len} direct {direct}");
                    assert!(back == data, "len {len} direct {direct} pieces {pieces:?}");
                }
            }
        }
    }

    #[test]
    fn a_new_file_replaces_an_old_longer_one() {
        let scratch = scratch("replace");
        let path = scratch.0.join("f");
        fs::write(&path, pattern(3 * BLOCK, 1)).unwrap();
        let data = pattern(100, 2);
        assert_eq!(round_trip(&path, true, &data, &[64]), data);
    }

    /// Whether the kernel has the file open with `O_DIRECT` (the `flags` line of
    /// `/proc/self/fdinfo`, octal).
    #[cfg(target_os = "linux")]
    fn kernel_says_direct(file: &DirectFile) -> bool {
        use std::os::fd::AsRawFd as _;
        let info =
            fs::read_to_string(format!("/proc/self/fdinfo/{}", file.file.as_raw_fd())).unwrap();
        let flags = info.lines().find_map(|l| l.strip_prefix("flags:")).unwrap().trim();
        i32::from_str_radix(flags, 8).unwrap() & libc::O_DIRECT != 0
    }

    /// Where the filesystem takes direct writes (ext4, xfs, btrfs) the file is open with
    /// `O_DIRECT`; where it does not, the writer says so and the bytes are the same. Either
    /// way the writer's word matches the kernel's.
    #[test]
    fn the_mode_in_use_is_the_kernels() {
        let scratch = scratch("mode");
        let buffered = DirectFile::create_with(&scratch.0.join("f"), false).unwrap();
        assert!(!buffered.is_direct());
        let direct = DirectFile::create(&scratch.0.join("g")).unwrap();
        #[cfg(target_os = "linux")]
        {
            assert!(!kernel_says_direct(&buffered));
            assert_eq!(kernel_says_direct(&direct), direct.is_direct());
            let mut direct = direct;
            direct.fall_back().unwrap();
            assert!(!kernel_says_direct(&direct));
        }
        #[cfg(not(target_os = "linux"))]
        assert!(!direct.is_direct());
    }

    #[test]
    fn falling_back_mid_file_keeps_every_byte() {
        let scratch = scratch("fallback");
        let path = scratch.0.join("f");
        let data = pattern(2 * BUFFER + 3 * BLOCK + 5, 3);
        let mut file = DirectFile::create(&path).unwrap();
        file.write_all(&data[..BUFFER + 10]).unwrap();
        file.fall_back().unwrap();
        assert!(!file.is_direct());
        file.write_all(&data[BUFFER + 10..]).unwrap();
        drop(file.finish().unwrap());
        assert!(fs::read(&path).unwrap() == data);
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(24))]
        #[test]
        fn any_pieces_read_back_equal(
            len in 0usize..(2 * BUFFER + 2 * BLOCK),
            pieces in proptest::collection::vec(1usize..300_000, 1..6),
            seed: u8,
        ) {
            let scratch = scratch("prop");
            let path = scratch.0.join("f");
            let data = pattern(len, seed);
            prop_assert!(round_trip(&path, true, &data, &pieces) == data);
        }
    }
}
