//! Covers: the embedded picture or a folder image, resized to a JPEG thumbnail cached on disk.

use std::io::{Cursor, Write as _};
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;

use image::{ImageFormat, ImageReader, Limits};
use lofty::config::ParseOptions;
use lofty::file::TaggedFileExt;
use lofty::picture::PictureType;
use rusqlite::OptionalExtension;

use crate::error::{Error, Result};
use crate::id::{fnv1a, TrackId};
use crate::model::Cover;
use crate::Library;

/// Folder images, in order of preference (compared ignoring case).
const FOLDER_IMAGES: &[&str] = &[
    "cover.jpg",
    "cover.jpeg",
    "cover.png",
    "folder.jpg",
    "folder.jpeg",
    "folder.png",
    "front.jpg",
    "front.jpeg",
    "front.png",
];
/// Extensions whose embedded pictures the scan detects (see `tags::sniff_embedded_cover`).
const SNIFFED: &[&str] = &["flac", "mp3", "m4a", "m4b", "mp4", "ogg", "oga", "opus"];
/// Largest source image accepted, in bytes and pixels per side.
const MAX_SOURCE_BYTES: u64 = 32 * 1024 * 1024;
const MAX_SIDE: u32 = 10_000;
/// Thumbnail sizes are clamped to this range.
const MIN_SIZE: u32 = 32;
const MAX_SIZE: u32 = 1024;
/// The thumbnail folder is trimmed (oldest first) when it grows past this.
const MAX_CACHE_BYTES: u64 = 256 * 1024 * 1024;

pub(crate) fn is_folder_image_name(name: &str) -> bool {
    FOLDER_IMAGES.iter().any(|n| n.eq_ignore_ascii_case(name))
}

/// The preferred cover image in `dir`, if any.
pub(crate) fn folder_image(dir: &Path) -> Option<PathBuf> {
    let mut best: Option<(usize, PathBuf)> = None;
    for entry in std::fs::read_dir(dir).ok()?.flatten() {
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if let Some(rank) = FOLDER_IMAGES
            .iter()
            .position(|n| n.eq_ignore_ascii_case(&name))
        {
            if best.as_ref().is_none_or(|(r, _)| rank < *r) && entry.path().is_file() {
                best = Some((rank, entry.path()));
            }
        }
    }
    best.map(|(_, p)| p)
}

fn identity(parts: &[&str]) -> String {
    format!("{:016x}", fnv1a(parts.join("\u{1f}").as_bytes()))
}

impl Library {
    /// The cover of a track as a JPEG that fits `size`×`size` (clamped to 32..=1024): its
    /// embedded picture, else a cover image in its folder (cover, folder or front .jpg/.png).
    /// `None` when it has neither. Thumbnails are cached on disk next to the database.
    pub fn cover(&self, id: &TrackId, size: u32) -> Result<Option<Cover>> {
        let size = size.clamp(MIN_SIZE, MAX_SIZE);
        let row: Option<(String, i64, i64, bool)> = self.read(|c| {
            c.query_row(
                "SELECT path, size, mtime, embedded_cover FROM tracks WHERE id = ?1",
                [id.as_str()],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
            )
            .optional()
        })?;
        let Some((path, fsize, mtime, embedded)) = row else {
            return Err(Error::NotFound {
                what: "track",
                id: id.to_string(),
            });
        };
        let path = PathBuf::from(path);
        // The embedded picture, keyed by the file's identity.
        let key = identity(&[
            "embedded",
            &path.to_string_lossy(),
            &fsize.to_string(),
            &mtime.to_string(),
        ]);
        if let Some(c) = self.cached(&key, size) {
            return Ok(Some(c));
        }
        // The scan found pictures by walking the tags of these formats; others are read.
        let sniffed = path
            .extension()
            .and_then(|e| e.to_str())
            .is_some_and(|e| SNIFFED.contains(&e.to_ascii_lowercase().as_str()));
        if embedded || !sniffed {
            let picture = std::panic::catch_unwind(|| embedded_picture(&path))
                .unwrap_or_else(|_| Err(Error::Cover("the file's tags are damaged".to_string())))?;
            if let Some(bytes) = picture {
                return self.make_thumbnail(&key, size, &bytes).map(Some);
            }
        }
        // A folder image, keyed by the image's identity (shared by the album's tracks).
        let Some(image) = path.parent().and_then(folder_image) else {
            return Ok(None);
        };
        let meta = std::fs::metadata(&image).map_err(|e| Error::io(&image, e))?;
        let key = identity(&[
            "folder",
            &image.to_string_lossy(),
            &meta.len().to_string(),
            &crate::scan::mtime_ns(&meta).to_string(),
        ]);
        if let Some(c) = self.cached(&key, size) {
            return Ok(Some(c));
        }
        if meta.len() > MAX_SOURCE_BYTES {
            return Err(Error::Cover(format!(
                "{} is {} MB (at most {} MB)",
                image.display(),
                meta.len() / (1024 * 1024),
                MAX_SOURCE_BYTES / (1024 * 1024)
            )));
        }
        let bytes = std::fs::read(&image).map_err(|e| Error::io(&image, e))?;
        self.make_thumbnail(&key, size, &bytes).map(Some)
    }

    fn thumb_path(&self, key: &str, size: u32) -> PathBuf {
        self.thumbs_dir.join(format!("{key}-{size}.jpg"))
    }

    fn cached(&self, key: &str, size: u32) -> Option<Cover> {
        let bytes = std::fs::read(self.thumb_path(key, size)).ok()?;
        (!bytes.is_empty()).then_some(Cover {
            mime: "image/jpeg",
            bytes,
        })
    }

    fn make_thumbnail(&self, key: &str, size: u32, source: &[u8]) -> Result<Cover> {
        let bytes = thumbnail(source, size)?;
        if let Err(e) = self.store(key, size, &bytes) {
            log::warn!("cannot cache a cover thumbnail: {e}");
        }
        Ok(Cover {
            mime: "image/jpeg",
            bytes,
        })
    }

    /// Write atomically: a temporary file in the same folder, then a rename.
    fn store(&self, key: &str, size: u32, bytes: &[u8]) -> Result<()> {
        let dir = &self.thumbs_dir;
        std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
        let n = self.thumb_writes.fetch_add(1, Ordering::Relaxed);
        let tmp = dir.join(format!(".{key}-{size}.{}.{n}.tmp", std::process::id()));
        let result = (|| {
            let mut f = std::fs::File::create(&tmp)?;
            f.write_all(bytes)?;
            f.sync_all()?;
            std::fs::rename(&tmp, self.thumb_path(key, size))
        })();
        if let Err(e) = result {
            let _ = std::fs::remove_file(&tmp);
            return Err(Error::io(&tmp, e));
        }
        if n.is_multiple_of(64) {
            trim_cache(dir, MAX_CACHE_BYTES);
        }
        Ok(())
    }
}

/// The embedded front cover (else the first picture) of `path`.
fn embedded_picture(path: &Path) -> Result<Option<Vec<u8>>> {
    let tagged = match lofty::probe::Probe::open(path)
        .and_then(|p| {
            p.options(ParseOptions::new().read_cover_art(true))
                .guess_file_type()
                .map_err(Into::into)
        })
        .and_then(|p| p.read())
    {
        Ok(t) => t,
        Err(e) => {
            log::debug!("{}: no embedded cover ({e})", path.display());
            return Ok(None);
        }
    };
    let pictures = tagged.tags().iter().flat_map(|t| t.pictures().iter());
    let front = pictures
        .clone()
        .find(|p| p.pic_type() == PictureType::CoverFront)
        .or_else(|| pictures.clone().next());
    let Some(p) = front else {
        return Ok(None);
    };
    if p.data().len() as u64 > MAX_SOURCE_BYTES {
        return Err(Error::Cover(format!(
            "the picture in {} is {} MB (at most {} MB)",
            path.display(),
            p.data().len() / (1024 * 1024),
            MAX_SOURCE_BYTES / (1024 * 1024)
        )));
    }
    Ok(Some(p.data().to_vec()))
}

/// Decode `source` (JPEG or PNG), fit it in `size`×`size`, encode JPEG. A decoder panic on
/// a hostile image is an error too.
pub(crate) fn thumbnail(source: &[u8], size: u32) -> Result<Vec<u8>> {
    std::panic::catch_unwind(|| thumbnail_unguarded(source, size))
        .unwrap_or_else(|_| Err(Error::Cover("it is damaged".to_string())))
}

fn thumbnail_unguarded(source: &[u8], size: u32) -> Result<Vec<u8>> {
    let reader = ImageReader::new(Cursor::new(source))
        .with_guessed_format()
        .map_err(|e| Error::Cover(e.to_string()))?;
    let format = reader.format();
    if !matches!(format, Some(ImageFormat::Jpeg | ImageFormat::Png)) {
        return Err(Error::Cover(
            "it is neither a JPEG nor a PNG image".to_string(),
        ));
    }
    let (w, h) = ImageReader::with_format(Cursor::new(source), format.unwrap_or(ImageFormat::Jpeg))
        .into_dimensions()
        .map_err(|e| Error::Cover(format!("it cannot be decoded ({e})")))?;
    if w > MAX_SIDE || h > MAX_SIDE {
        return Err(Error::Cover(format!(
            "it is {w}×{h} pixels (at most {MAX_SIDE} per side)"
        )));
    }
    let mut reader = reader;
    let mut limits = Limits::default();
    limits.max_image_width = Some(MAX_SIDE);
    limits.max_image_height = Some(MAX_SIDE);
    limits.max_alloc = Some(512 * 1024 * 1024);
    reader.limits(limits);
    let img = reader
        .decode()
        .map_err(|e| Error::Cover(format!("it cannot be decoded ({e})")))?;
    let img = if w > size || h > size {
        img.thumbnail(size, size)
    } else {
        img
    };
    let mut out = Vec::new();
    let rgb = img.to_rgb8();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 85)
        .encode_image(&rgb)
        .map_err(|e| Error::Cover(format!("it cannot be encoded ({e})")))?;
    Ok(out)
}

/// Delete the oldest thumbnails until the folder holds at most `max_bytes`.
fn trim_cache(dir: &Path, max_bytes: u64) {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return;
    };
    let mut files: Vec<(std::time::SystemTime, u64, PathBuf)> = rd
        .flatten()
        .filter_map(|e| {
            let m = e.metadata().ok()?;
            Some((m.modified().ok()?, m.len(), e.path()))
        })
        .collect();
    let mut total: u64 = files.iter().map(|f| f.1).sum();
    if total <= max_bytes {
        return;
    }
    files.sort();
    for (_, len, path) in files {
        if total <= max_bytes {
            break;
        }
        if std::fs::remove_file(&path).is_ok() {
            total = total.saturating_sub(len);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn garbage_and_huge_images_are_errors_not_panics() {
        assert!(thumbnail(b"not an image at all", 64).is_err());
        assert!(thumbnail(&[], 64).is_err());
        // A PNG header claiming 20000×20000 pixels.
        let mut png = Vec::new();
        image::codecs::png::PngEncoder::new(&mut png)
            .write_image(&[0u8; 3], 1, 1, image::ExtendedColorType::Rgb8)
            .unwrap();
        png[16..20].copy_from_slice(&20_000u32.to_be_bytes());
        png[20..24].copy_from_slice(&20_000u32.to_be_bytes());
        let e = thumbnail(&png, 64).unwrap_err().to_string();
        assert!(e.contains("20000") || e.contains("decoded"), "{e}");
    }

    #[test]
    fn thumbnails_fit_the_box() {
        let img = image::RgbImage::from_pixel(400, 200, image::Rgb([200, 10, 10]));
        let mut png = Vec::new();
        image::DynamicImage::ImageRgb8(img)
            .write_to(&mut Cursor::new(&mut png), ImageFormat::Png)
            .unwrap();
        let jpg = thumbnail(&png, 100).unwrap();
        let out = image::load_from_memory(&jpg).unwrap();
        assert_eq!((out.width(), out.height()), (100, 50));
    }

    use image::ImageEncoder as _;
}
