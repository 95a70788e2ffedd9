//! The file that holds a rotating refresh token, rewritten atomically.

use std::io::Write;
use std::path::{Path, PathBuf};

use crate::secret::Secret;

/// A refresh token kept in a file only hrsync reads (mode 0600 on Unix).
#[derive(Debug, Clone)]
pub struct RefreshTokenFile {
    path: PathBuf,
}

/// Reading or writing the refresh token file failed. Never contains the token.
#[derive(Debug, thiserror::Error)]
pub enum RefreshFileError {
    #[error("cannot read the refresh token from {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("the refresh token file {path} is empty")]
    Empty { path: PathBuf },
    #[error(
        "cannot save the rotated refresh token to {path}: {source}. The previous token is no longer valid; re-authorize hrsync in Remote"
    )]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
}

impl RefreshTokenFile {
    /// The file at `path`.
    pub fn new(path: impl Into<PathBuf>) -> Self {
        RefreshTokenFile { path: path.into() }
    }

    /// Where the token lives.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The current refresh token.
    pub fn read(&self) -> Result<Secret, RefreshFileError> {
        let text =
            std::fs::read_to_string(&self.path).map_err(|source| RefreshFileError::Read {
                path: self.path.clone(),
                source,
            })?;
        let token = text.trim();
        if token.is_empty() {
            return Err(RefreshFileError::Empty {
                path: self.path.clone(),
            });
        }
        Ok(Secret::new(token))
    }

    /// Replaces the token: a new file beside it, synced, then renamed over the old one, so a
    /// crash leaves either the old token or the new one, never half of one.
    pub fn write(&self, token: &Secret) -> Result<(), RefreshFileError> {
        let err = |source| RefreshFileError::Write {
            path: self.path.clone(),
            source,
        };
        let dir = self
            .path
            .parent()
            .filter(|d| !d.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        let name = self
            .path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "refresh-token".into());
        let tmp = dir.join(format!(".{name}.{}.tmp", std::process::id()));
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create(true).truncate(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(0o600);
        }
        let mut file = options.open(&tmp).map_err(err)?;
        file.write_all(token.expose().as_bytes()).map_err(err)?;
        file.write_all(b"\n").map_err(err)?;
        file.sync_all().map_err(err)?;
        drop(file);
        std::fs::rename(&tmp, &self.path).map_err(err)?;
        if let Ok(d) = std::fs::File::open(dir) {
            let _ = d.sync_all();
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn rewrite_is_whole_and_private() {
        let dir = tempfile::tempdir().unwrap();
        let f = RefreshTokenFile::new(dir.path().join("remote.refresh"));
        assert!(matches!(f.read(), Err(RefreshFileError::Read { .. })));
        f.write(&Secret::new("rt-1")).unwrap();
        f.write(&Secret::new("rt-2")).unwrap();
        assert_eq!(f.read().unwrap().expose(), "rt-2");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(f.path()).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        assert_eq!(
            std::fs::read_dir(dir.path()).unwrap().count(),
            1,
            "no temp file left"
        );
    }
}
