//! The files of `dist/`, compiled into the binary: each with its content type, its entity tag
//! and (for text) a gzip copy, both computed on first use and kept for the life of the process.

use std::io::Write;
use std::sync::{LazyLock, OnceLock};

use actix_web::http::header::EntityTag;
use include_dir::{Dir, include_dir};
use sha2::{Digest, Sha256};

/// The built app. `include_dir!` embeds each file with `include_bytes!`, so cargo compiles this
/// crate again when an embedded file changes or disappears; a rebuild of the app does both
/// (new hashed names, a new `index.html`, the old files removed), so new files are picked up too.
static DIST: Dir<'static> = include_dir!("$CARGO_MANIFEST_DIR/dist");

/// Every embedded file, in path order.
static FILES: LazyLock<Vec<Asset>> = LazyLock::new(|| {
    let mut files = Vec::new();
    collect(&DIST, &mut files);
    files.sort_by(|a, b| a.path.cmp(&b.path));
    files
});

/// One embedded file.
pub(crate) struct Asset {
    /// Relative to `dist/`, with `/` between the parts: `index.html`, `assets/index-….js`.
    pub(crate) path: String,
    pub(crate) bytes: &'static [u8],
    pub(crate) content_type: &'static str,
    /// False for formats that are compressed already (images, fonts): gzip would only add bytes.
    compressible: bool,
    tag: OnceLock<EntityTag>,
    gzip: OnceLock<Option<Gzipped>>,
}

/// A file's gzip representation.
pub(crate) struct Gzipped {
    pub(crate) bytes: Vec<u8>,
    pub(crate) tag: EntityTag,
}

impl Asset {
    fn new(path: String, bytes: &'static [u8]) -> Self {
        let (content_type, compressible) = content_type(&path);
        Self {
            path,
            bytes,
            content_type,
            compressible,
            tag: OnceLock::new(),
            gzip: OnceLock::new(),
        }
    }

    /// A strong entity tag from the contents (128 bits of their SHA-256).
    pub(crate) fn tag(&self) -> &EntityTag {
        self.tag
            .get_or_init(|| EntityTag::new_strong(digest(self.bytes)))
    }

    /// The gzip copy, compressed on first use; `None` for formats compressed already and for
    /// files gzip would not make smaller.
    pub(crate) fn gzip(&self) -> Option<&Gzipped> {
        self.gzip
            .get_or_init(|| {
                if !self.compressible {
                    return None;
                }
                let bytes = gzip(self.bytes).ok()?;
                (bytes.len() < self.bytes.len()).then(|| Gzipped {
                    // Another representation, so another strong tag.
                    tag: EntityTag::new_strong(format!("{}-gzip", self.tag().tag())),
                    bytes,
                })
            })
            .as_ref()
    }

    /// Whether the answer depends on `Accept-Encoding`.
    pub(crate) fn varies_by_encoding(&self) -> bool {
        self.gzip().is_some()
    }
}

fn collect(dir: &'static Dir<'static>, into: &mut Vec<Asset>) {
    for file in dir.files() {
        let parts: Option<Vec<&str>> = file
            .path()
            .components()
            .map(|part| part.as_os_str().to_str())
            .collect();
        // A name that is not UTF-8 cannot be asked for in a URL.
        if let Some(parts) = parts {
            into.push(Asset::new(parts.join("/"), file.contents()));
        }
    }
    for sub in dir.dirs() {
        collect(sub, into);
    }
}

/// Every embedded file.
pub(crate) fn all() -> &'static [Asset] {
    &FILES
}

/// The embedded file at `path` (relative to `dist/`).
pub(crate) fn find(path: &str) -> Option<&'static Asset> {
    FILES.iter().find(|asset| asset.path == path)
}

/// The content type of a file name, and whether gzip makes such files smaller.
pub(crate) fn content_type(path: &str) -> (&'static str, bool) {
    let extension = path
        .rsplit_once('.')
        .map(|(_, ext)| ext.to_ascii_lowercase())
        .unwrap_or_default();
    match extension.as_str() {
        "html" => ("text/html; charset=utf-8", true),
        "js" | "mjs" => ("text/javascript; charset=utf-8", true),
        "css" => ("text/css; charset=utf-8", true),
        "json" | "map" => ("application/json", true),
        "webmanifest" => ("application/manifest+json", true),
        "txt" => ("text/plain; charset=utf-8", true),
        "svg" => ("image/svg+xml", true),
        "ico" => ("image/x-icon", true),
        "wasm" => ("application/wasm", true),
        "ttf" => ("font/ttf", true),
        "otf" => ("font/otf", true),
        "png" => ("image/png", false),
        "jpg" | "jpeg" => ("image/jpeg", false),
        "gif" => ("image/gif", false),
        "webp" => ("image/webp", false),
        "avif" => ("image/avif", false),
        "woff" => ("font/woff", false),
        "woff2" => ("font/woff2", false),
        _ => ("application/octet-stream", false),
    }
}

fn digest(bytes: &[u8]) -> String {
    Sha256::digest(bytes)[..16]
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect()
}

/// Best compression: each file is compressed once per process.
pub(crate) fn gzip(bytes: &[u8]) -> std::io::Result<Vec<u8>> {
    let mut encoder = flate2::write::GzEncoder::new(
        Vec::with_capacity(bytes.len() / 3),
        flate2::Compression::best(),
    );
    encoder.write_all(bytes)?;
    encoder.finish()
}
