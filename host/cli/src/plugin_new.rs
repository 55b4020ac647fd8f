//! `airlock plugin new NAME --app-key KEY`: a plugin crate that passes its tests and builds
//! for `wasm32-wasip2` as written, anywhere on disk. The files are the templates in
//! `templates/plugin/` and the repository's own `rust-toolchain.toml`; the SDK and the
//! contract crate are vendored under `vendor/` from the `.crate` archives `cargo package`
//! made of them (carried by this binary, or read from `--sdk DIR`).

use airlock_model::{AppKey, app_storage};
use anyhow::{Context, Result, bail};
use std::path::{Component, Path, PathBuf};

/// (path in the new crate, template). Placeholders are `{{name}}`-style, see [`render`].
const TEMPLATES: &[(&str, &str)] = &[
    (
        "Cargo.toml",
        include_str!("../templates/plugin/Cargo.toml.tmpl"),
    ),
    // The toolchain this repository builds (and tests the SDK) with.
    (
        "rust-toolchain.toml",
        include_str!("../../../rust-toolchain.toml"),
    ),
    (".gitignore", include_str!("../templates/plugin/gitignore")),
    ("README.md", include_str!("../templates/plugin/README.md")),
    ("src/lib.rs", include_str!("../templates/plugin/src/lib.rs")),
    (
        "src/tests.rs",
        include_str!("../templates/plugin/src/tests.rs"),
    ),
    (
        "fixture/activeobjects.xml",
        include_str!("../templates/plugin/fixture/activeobjects.xml"),
    ),
    (
        "fixture/mappings.json",
        include_str!("../templates/plugin/fixture/mappings.json"),
    ),
];

/// The crates vendored, in dependency order.
const VENDORED: [&str; 2] = ["airlock-contract", "airlock-sdk"];

pub struct Options {
    pub name: String,
    pub app_key: String,
    /// Where to write the crate (default: `./NAME`).
    pub dir: Option<PathBuf>,
    /// A directory holding `airlock-contract-<v>.crate` and `airlock-sdk-<v>.crate` (as
    /// `cargo package` writes them to `target/package/`), instead of the ones carried.
    pub sdk: Option<PathBuf>,
}

/// Writes the crate and says what to do next.
pub fn run(options: &Options) -> Result<()> {
    let dir = options
        .dir
        .clone()
        .unwrap_or_else(|| PathBuf::from(&options.name));
    let values = Values::new(&options.name, &options.app_key)?;
    let crates = match &options.sdk {
        Some(sdk) => read_crates(sdk)?,
        None => airlock_plugin_artifacts::sdk_crates()
            .map(|(file, bytes)| (file.to_owned(), bytes.to_vec()))
            .to_vec(),
    };
    let sdk_version = version_of(&crates[1].0, VENDORED[1])?;
    write(&dir, &values, &sdk_version, &crates)?;
    println!(
        "wrote {} (app {}, tables {}_*; airlock-sdk {sdk_version} vendored in vendor/)",
        dir.display(),
        values.app_key,
        values.ao_prefix
    );
    println!("next:");
    println!("  cd {}", dir.display());
    println!("  cargo test");
    println!("  cargo build --release --target wasm32-wasip2");
    let wasm = format!("target/wasm32-wasip2/release/{}.wasm", values.crate_ident);
    println!("  airlock plugin inspect {wasm}");
    println!("  airlock plugin run {wasm} --fixture fixture");
    Ok(())
}

/// What the templates' placeholders stand for.
struct Values {
    name: String,
    crate_ident: String,
    type_name: String,
    app_key: AppKey,
    ao_prefix: String,
}

impl Values {
    fn new(name: &str, app_key: &str) -> Result<Values> {
        check_name(name)?;
        let app_key = AppKey::new(app_key);
        app_storage::check_app_key(&app_key).map_err(|rule| {
            anyhow::anyhow!("--app-key: the app key {rule} (use the key of your app's descriptor, e.g. com.acme.notes)")
        })?;
        Ok(Values {
            name: name.to_owned(),
            crate_ident: name.replace('-', "_"),
            type_name: type_name(name),
            ao_prefix: app_key.ao_prefix().to_string(),
            app_key,
        })
    }
}

/// A name Cargo accepts for a package whose library is also a Rust identifier.
fn check_name(name: &str) -> Result<()> {
    let valid = name.len() <= 64
        && name.starts_with(|c: char| c.is_ascii_lowercase())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_');
    if !valid {
        bail!(
            "plugin name `{name}`: use 1 to 64 lower-case letters, digits, `-` or `_`, starting with a letter (e.g. acme-notes)"
        );
    }
    const RESERVED: &[&str] = &[
        "as",
        "async",
        "await",
        "break",
        "const",
        "continue",
        "crate",
        "dyn",
        "else",
        "enum",
        "extern",
        "false",
        "fn",
        "for",
        "if",
        "impl",
        "in",
        "let",
        "loop",
        "match",
        "mod",
        "move",
        "mut",
        "pub",
        "ref",
        "return",
        "self",
        "static",
        "struct",
        "super",
        "trait",
        "true",
        "type",
        "unsafe",
        "use",
        "where",
        "while",
        "abstract",
        "become",
        "box",
        "do",
        "final",
        "gen",
        "macro",
        "override",
        "priv",
        "try",
        "typeof",
        "unsized",
        "virtual",
        "yield",
        "std",
        "core",
        "alloc",
        "proc_macro",
        "test",
    ];
    if RESERVED.contains(&name.replace('-', "_").as_str()) {
        bail!("plugin name `{name}` is reserved in Rust or Cargo: choose another");
    }
    Ok(())
}

/// `acme-notes` → `AcmeNotesMigrator`: a type name no import of the template shadows.
fn type_name(name: &str) -> String {
    let camel: String = name
        .split(['-', '_'])
        .filter(|part| !part.is_empty())
        .map(|part| {
            let mut chars = part.chars();
            chars
                .next()
                .map(|first| first.to_ascii_uppercase().to_string() + chars.as_str())
                .unwrap_or_default()
        })
        .collect();
    if camel.ends_with("Migrator") && camel != "Migrator" {
        camel
    } else {
        camel + "Migrator"
    }
}

fn render(template: &str, values: &Values, sdk_version: &str) -> String {
    template
        .replace("{{name}}", &values.name)
        .replace("{{crate_ident}}", &values.crate_ident)
        .replace("{{type_name}}", &values.type_name)
        .replace("{{app_key}}", values.app_key.as_str())
        .replace("{{ao_prefix}}", &values.ao_prefix)
        .replace("{{sdk_version}}", sdk_version)
        .replace("{{rust_version}}", env!("CARGO_PKG_RUST_VERSION"))
}

fn write(
    dir: &Path,
    values: &Values,
    sdk_version: &str,
    crates: &[(String, Vec<u8>)],
) -> Result<()> {
    if dir
        .read_dir()
        .is_ok_and(|mut entries| entries.next().is_some())
    {
        bail!(
            "{} exists and is not empty: choose another --dir, or remove it",
            dir.display()
        );
    }
    for (path, template) in TEMPLATES {
        let path = dir.join(path);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)
                .with_context(|| format!("cannot create {}", parent.display()))?;
        }
        std::fs::write(&path, render(template, values, sdk_version))
            .with_context(|| format!("cannot write {}", path.display()))?;
    }
    for ((file, bytes), name) in crates.iter().zip(VENDORED) {
        let version = version_of(file, name)?;
        unpack(
            bytes,
            &format!("{name}-{version}"),
            &dir.join("vendor").join(name),
        )
        .with_context(|| format!("cannot vendor {file}"))?;
    }
    Ok(())
}

/// The two `.crate` archives of `--sdk DIR`, in [`VENDORED`] order.
fn read_crates(dir: &Path) -> Result<Vec<(String, Vec<u8>)>> {
    let files: Vec<String> = std::fs::read_dir(dir)
        .with_context(|| format!("--sdk {}: cannot read the directory", dir.display()))?
        .filter_map(|entry| entry.ok())
        .map(|entry| entry.file_name().to_string_lossy().into_owned())
        .collect();
    VENDORED
        .iter()
        .map(|name| {
            let found: Vec<&String> = files
                .iter()
                .filter(|f| version_of(f, name).is_ok())
                .collect();
            let [file] = found.as_slice() else {
                bail!(
                    "--sdk {}: expected exactly one {name}-<version>.crate (as `cargo package -p airlock-contract -p airlock-sdk` writes to target/package/), found {}",
                    dir.display(),
                    found.len()
                );
            };
            let bytes = std::fs::read(dir.join(file))
                .with_context(|| format!("cannot read {}", dir.join(file).display()))?;
            Ok(((*file).clone(), bytes))
        })
        .collect()
}

/// `airlock-sdk-0.1.0.crate` → `0.1.0`.
fn version_of(file: &str, name: &str) -> Result<String> {
    file.strip_prefix(name)
        .and_then(|rest| rest.strip_prefix('-'))
        .and_then(|rest| rest.strip_suffix(".crate"))
        .filter(|version| version.starts_with(|c: char| c.is_ascii_digit()))
        .map(str::to_owned)
        .with_context(|| format!("{file} is not a {name}-<version>.crate archive"))
}

/// Unpacks a `.crate` (a gzipped tar whose entries all lie under `<root>/`) into `into`:
/// regular files only, every path plain (no `..`, no absolute path, no link).
fn unpack(archive: &[u8], root: &str, into: &Path) -> Result<()> {
    let mut tar = tar::Archive::new(flate2::read::GzDecoder::new(archive));
    for entry in tar.entries()? {
        let mut entry = entry?;
        let path = entry.path()?.into_owned();
        let mut components = path.components();
        if components.next() != Some(Component::Normal(root.as_ref())) {
            bail!("{} lies outside {root}/", path.display());
        }
        let relative: PathBuf = components.collect();
        if !relative
            .components()
            .all(|c| matches!(c, Component::Normal(_)))
        {
            bail!("{}: not a plain relative path", path.display());
        }
        match entry.header().entry_type() {
            tar::EntryType::Directory => continue,
            tar::EntryType::Regular => {}
            other => bail!("{}: a {other:?} entry, not a file", path.display()),
        }
        let target = into.join(&relative);
        if let Some(parent) = target.parent() {
            std::fs::create_dir_all(parent)?;
        }
        let mut file = std::fs::File::create(&target)
            .with_context(|| format!("cannot write {}", target.display()))?;
        std::io::copy(&mut entry, &mut file)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_placeholder_is_filled() {
        let values = Values::new("acme-notes", "com.acme.notes").unwrap();
        for (path, template) in TEMPLATES {
            let text = render(template, &values, "0.1.0");
            assert!(!text.contains("{{"), "{path} keeps a placeholder");
        }
        assert_eq!(values.type_name, "AcmeNotesMigrator");
        assert_eq!(values.crate_ident, "acme_notes");
        assert_eq!(type_name("notes_migrator"), "NotesMigrator");
        assert_eq!(type_name("migrator"), "MigratorMigrator");
    }

    #[test]
    fn names_and_keys_are_checked_before_anything_is_written() {
        for bad in [
            "Acme",
            "1notes",
            "acme notes",
            "acme/notes",
            "",
            "fn",
            "test",
        ] {
            assert!(Values::new(bad, "com.acme.notes").is_err(), "{bad}");
        }
        let e = Values::new("acme-notes", "com acme")
            .err()
            .unwrap()
            .to_string();
        assert!(e.starts_with("--app-key: the app key"), "{e}");
    }

    #[test]
    fn the_carried_sdk_unpacks_with_its_wit_and_namespaces() {
        let dir = tempfile::tempdir().unwrap();
        for ((file, bytes), name) in airlock_plugin_artifacts::sdk_crates()
            .into_iter()
            .zip(VENDORED)
        {
            let version = version_of(file, name).unwrap();
            unpack(bytes, &format!("{name}-{version}"), &dir.path().join(name)).unwrap();
        }
        for path in [
            "airlock-sdk/Cargo.toml",
            "airlock-sdk/wit/plugin.wit",
            "airlock-sdk/NAMESPACES.md",
            "airlock-contract/src/namespace.rs",
        ] {
            assert!(dir.path().join(path).is_file(), "{path}");
        }
        // The manifest cargo normalized stands alone: no workspace to inherit from.
        let manifest = std::fs::read_to_string(dir.path().join("airlock-sdk/Cargo.toml")).unwrap();
        assert!(!manifest.contains(".workspace"), "{manifest}");
    }

    #[test]
    fn an_archive_cannot_write_outside_its_folder() {
        let mut builder = tar::Builder::new(Vec::new());
        let mut header = tar::Header::new_gnu();
        header.set_size(1);
        header.set_entry_type(tar::EntryType::Regular);
        // `append_data` refuses `..`; write the name into the header as a hostile archive would.
        header.as_gnu_mut().unwrap().name[..22].copy_from_slice(b"airlock-sdk-0.1.0/../x");
        header.set_cksum();
        builder.append(&header, &b"x"[..]).unwrap();
        let tar = builder.into_inner().unwrap();
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        std::io::Write::write_all(&mut gz, &tar).unwrap();
        let archive = gz.finish().unwrap();
        let dir = tempfile::tempdir().unwrap();
        let e = unpack(&archive, "airlock-sdk-0.1.0", &dir.path().join("sdk")).unwrap_err();
        assert!(e.to_string().contains("not a plain relative path"), "{e}");
        assert!(!dir.path().join("x").exists());
    }
}
