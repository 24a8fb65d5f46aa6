//! Where the lake is (`s3://bucket/prefix` or a directory) and which object keys are valid.

use std::path::PathBuf;

use super::StoreError;

/// A lake location.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Location {
    /// A local directory.
    Dir(PathBuf),
    /// An S3 bucket and a key prefix (without slashes at either end; may be empty).
    S3 {
        /// The bucket name.
        bucket: String,
        /// The key prefix.
        prefix: String,
    },
}

impl Location {
    /// Parses `s3://bucket`, `s3://bucket/prefix/…` or a directory path (anything without a
    /// `scheme://`).
    ///
    /// # Errors
    ///
    /// [`StoreError::BadLocation`] for an empty string, another scheme, or a bucket name
    /// outside S3's rules (3–63 characters of `a-z 0-9 . -`).
    ///
    /// # Examples
    ///
    /// ```
    /// use cmcd_ingest::store::Location;
    /// assert_eq!(
    ///     Location::parse("s3://cdn-logs/lake/v1/")?,
    ///     Location::S3 { bucket: "cdn-logs".into(), prefix: "lake/v1".into() }
    /// );
    /// assert_eq!(Location::parse("./lake")?, Location::Dir("./lake".into()));
    /// assert_eq!(Location::parse("gs://x").unwrap_err().code(), "bad_location");
    /// # Ok::<(), cmcd_ingest::store::StoreError>(())
    /// ```
    pub fn parse(s: &str) -> Result<Self, StoreError> {
        let bad = || StoreError::BadLocation(s.to_owned());
        if let Some(rest) = s.strip_prefix("s3://") {
            let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
            let valid = (3..=63).contains(&bucket.len())
                && bucket.bytes().all(|b| {
                    b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'.' || b == b'-'
                });
            let prefix = prefix.trim_matches('/');
            if !valid || (!prefix.is_empty() && check_key(prefix).is_err()) {
                return Err(bad());
            }
            return Ok(Self::S3 { bucket: bucket.to_owned(), prefix: prefix.to_owned() });
        }
        if s.is_empty() || s.contains("://") {
            return Err(bad());
        }
        Ok(Self::Dir(PathBuf::from(s)))
    }
}

/// Checks that `key` is relative with non-empty segments and no `.` or `..`.
///
/// # Errors
///
/// [`StoreError::BadKey`].
pub fn check_key(key: &str) -> Result<(), StoreError> {
    if key.is_empty()
        || key.len() > 900
        || key.split('/').any(|s| s.is_empty() || s == "." || s == "..")
        || key.contains(['\\', '\0'])
    {
        return Err(StoreError::BadKey(key.to_owned()));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locations_and_keys() {
        assert_eq!(
            Location::parse("s3://bucket").unwrap(),
            Location::S3 { bucket: "bucket".into(), prefix: String::new() }
        );
        for bad in
            ["", "s3://", "s3://a", "s3://Upper/x", "s3://b_b/x", "s3://bucket/a/../b", "http://x"]
        {
            assert_eq!(Location::parse(bad).unwrap_err().code(), "bad_location", "{bad}");
        }
        assert!(check_key("requests/dt=2024-05-02/hour=11/part-a-1.parquet").is_ok());
        for bad in ["", "/abs", "a//b", "a/./b", "../x", "a/", "a\\b"] {
            assert_eq!(check_key(bad).unwrap_err().code(), "bad_key", "{bad}");
        }
    }
}
