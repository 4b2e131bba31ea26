//! The house's rules, kept by a test rather than by review: ARCHITECTURE.md
//! names every source file (benches, examples and the page's too), none
//! that is gone, and each crate's real dependencies on the others, no file grows past 450 lines without saying why at its top, and
//! no module of a crate reaches, through its `use`s, back to itself (the
//! runtime's engine excepted: it is the hub every room is a part of).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..").canonicalize().unwrap()
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            if path.file_name().is_some_and(|n| n != "target") {
                rust_files(&path, out);
            }
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The crates' source roots: each crate's `src`, and the app's `src-tauri`.
fn source_roots() -> Vec<(String, PathBuf)> {
    let root = root();
    let mut roots: Vec<(String, PathBuf)> = std::fs::read_dir(root.join("crates"))
        .unwrap()
        .flatten()
        .map(|e| (e.file_name().to_string_lossy().into_owned(), e.path().join("src")))
        .collect();
    roots.push(("tokentray-app".to_owned(), root.join("src-tauri")));
    roots.sort();
    roots
}

/// `prefix/{a.rs, b.rs}` in the text stands for `prefix/a.rs` and `prefix/b.rs`.
fn named_paths(text: &str) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    for word in text.split(|c: char| c.is_whitespace() || matches!(c, '`' | '(' | ')' | ',' | ';' | ':' | '"')) {
        // A brace group (`a/{b.rs, c.rs}`) is read whole below.
        if !word.contains(['{', '}']) {
            names.insert(word.trim_end_matches('.').to_owned());
        }
    }
    let mut rest = text;
    while let Some(open) = rest.find('{') {
        let Some(close) = rest[open..].find('}') else { break };
        let inside = &rest[open + 1..open + close];
        let prefix: String =
            rest[..open].chars().rev().take_while(|c| c.is_alphanumeric() || matches!(c, '/' | '_' | '-')).collect();
        let prefix: String = prefix.chars().rev().collect();
        for item in inside.split(',') {
            names.insert(format!("{prefix}{}", item.trim()));
        }
        rest = &rest[open + close..];
    }
    names
}

/// Every file the map must name, by its path in its crate (or the root's,
/// for the page and the examples): sources, benches, examples, the page.
fn mapped_files() -> Vec<(String, String)> {
    let root = root();
    let mut out = Vec::new();
    for (krate, src) in source_roots() {
        let mut files = Vec::new();
        rust_files(&src, &mut files);
        let crate_dir = src.parent().unwrap().to_owned();
        rust_files(&crate_dir.join("benches"), &mut files);
        for file in files {
            let base = if file.starts_with(&src) { &src } else { &crate_dir };
            let relative = file.strip_prefix(base).unwrap().to_string_lossy().replace('\\', "/");
            // A crate's root (`lib.rs`, `main.rs`) is its row; a build script is its own.
            if ["lib.rs", "main.rs", "build.rs"].contains(&relative.as_str()) {
                continue;
            }
            out.push((krate.clone(), relative));
        }
    }
    for dir in ["examples", "ui"] {
        for entry in std::fs::read_dir(root.join(dir)).unwrap().flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            if [".rs", ".py", ".js", ".mjs", ".html", ".css"].iter().any(|e| name.ends_with(e)) {
                out.push(("/".to_owned(), format!("{dir}/{name}")));
            }
        }
    }
    out
}

#[test]
fn the_map_names_every_source_file() {
    let map = std::fs::read_to_string(root().join("ARCHITECTURE.md")).unwrap();
    let named = named_paths(&map);
    let missing: Vec<String> = mapped_files()
        .into_iter()
        .filter(|(_, relative)| !named.contains(relative))
        .map(|(krate, relative)| format!("{krate}: {relative}"))
        .collect();
    assert!(missing.is_empty(), "ARCHITECTURE.md names no such files; map them:\n{}", missing.join("\n"));
}

/// A file the map names that is gone is a map that lies.
#[test]
fn every_file_the_map_names_is_there() {
    let map = std::fs::read_to_string(root().join("ARCHITECTURE.md")).unwrap();
    // Any Rust file of the repository's own, tests included, by its path from the
    // root, with the crates by the short names the map uses (`core/src/provider.rs`).
    let mut all = Vec::new();
    for dir in ["crates", "src-tauri", "tests", "examples"] {
        rust_files(&root().join(dir), &mut all);
    }
    let there: BTreeSet<String> = all
        .iter()
        .map(|f| {
            f.strip_prefix(root()).unwrap().to_string_lossy().replace('\\', "/").replace("crates/tokentray-", "crates/")
        })
        .collect();
    let gone: Vec<String> = named_paths(&map)
        .into_iter()
        .filter(|n| n.ends_with(".rs") && !n.contains('*') && !n.contains("NAME"))
        // A path from the root (`core/src/provider.rs`) ends with one the crates
        // have; a word inside a brace group that wraps (`check.rs`) is the tail of one.
        .filter(|n| !there.iter().any(|t| t == n || n.ends_with(&format!("/{t}")) || t.ends_with(&format!("/{n}"))))
        .filter(|n| !["lib.rs", "main.rs", "build.rs"].iter().any(|r| n.ends_with(r)))
        .collect();
    assert!(gone.is_empty(), "ARCHITECTURE.md names files that are not there:\n{}", gone.join("\n"));
}

#[test]
fn the_map_states_each_crates_real_dependencies() {
    let map = std::fs::read_to_string(root().join("ARCHITECTURE.md")).unwrap();
    let ours: Vec<String> = source_roots().into_iter().map(|(k, _)| k).collect();
    let short = |k: &str| k.trim_start_matches("tokentray-").to_owned();
    let mut wrong = Vec::new();
    for krate in &ours {
        let manifest = match krate.as_str() {
            "tokentray-app" => root().join("Cargo.toml"),
            k => root().join("crates").join(k).join("Cargo.toml"),
        };
        let manifest = std::fs::read_to_string(manifest).unwrap();
        let deps = manifest.split("\n[dependencies]\n").nth(1).unwrap_or("");
        let deps = deps.split("\n[").next().unwrap_or("");
        let real: BTreeSet<String> = ours
            .iter()
            .filter(|other| {
                deps.lines().any(|l| l.starts_with(&format!("{other}.")) || l.starts_with(&format!("{other} ")))
            })
            .map(|k| short(k))
            .collect();
        let path = match krate.as_str() {
            "tokentray-app" => "`/`".to_owned(),
            k => format!("`crates/{k}`"),
        };
        let Some(row) = map.lines().find(|l| l.starts_with(&format!("| {path}"))) else {
            wrong.push(format!("{krate}: no row in the crates table"));
            continue;
        };
        let stated_column = row.rsplit('|').nth(1).unwrap_or("");
        let stated: BTreeSet<String> = ours
            .iter()
            .map(|k| short(k))
            .filter(|s| stated_column.split(|c: char| !c.is_alphanumeric() && c != '-').any(|w| w == s))
            .collect();
        if stated != real {
            wrong.push(format!("{krate}: the map says {stated:?}, Cargo.toml {real:?}"));
        }
    }
    assert!(wrong.is_empty(), "the crates table is not true:\n{}", wrong.join("\n"));
}

#[test]
fn no_file_is_long_without_saying_why() {
    let root = root();
    let mut files = Vec::new();
    for dir in ["crates", "src-tauri", "tests", "examples"] {
        rust_files(&root.join(dir), &mut files);
    }
    let long: Vec<String> = files
        .iter()
        .filter_map(|f| {
            let text = std::fs::read_to_string(f).ok()?;
            let lines = text.lines().count();
            let head: String = text.lines().take(10).collect::<Vec<_>>().join("\n");
            (lines > 450 && !head.contains("lines on purpose"))
                .then(|| format!("{} ({lines} lines)", f.strip_prefix(&root).unwrap().display()))
        })
        .collect();
    assert!(
        long.is_empty(),
        "over 450 lines, with no \"(Over 450 lines on purpose: ...)\" at the top:\n{}",
        long.join("\n")
    );
}

/// The module a file is, as a `crate::` path (`surfaces/control/server.rs`
/// is `surfaces::control::server`).
fn module_of(relative: &str) -> Vec<String> {
    let trimmed = relative.trim_end_matches(".rs");
    let mut parts: Vec<String> = trimmed.split('/').map(str::to_owned).collect();
    if matches!(parts.last().map(String::as_str), Some("mod" | "lib" | "main")) {
        parts.pop();
    }
    parts
}

/// The code of a file before its `#[cfg(test)]` module (tests may reach
/// anywhere), without its comment lines (a doc link is no dependency).
fn product_code(text: &str) -> String {
    let code = text.split("#[cfg(test)]\nmod tests").next().unwrap_or(text);
    code.lines().filter(|l| !l.trim_start().starts_with("//")).collect::<Vec<_>>().join("\n")
}

/// The paths a `crate::`/`super::` reference names, braces expanded:
/// `crate::a::{B, c::D}` is `a::B` and `a::c::D`.
fn expand(text: &str) -> Vec<String> {
    let head: String = text.chars().take_while(|c| c.is_alphanumeric() || matches!(c, '_' | ':')).collect();
    let rest = &text[head.len()..];
    if !head.ends_with("::") || !rest.starts_with('{') {
        return vec![head.trim_end_matches(':').to_owned()];
    }
    // The group's items, split at its own commas.
    let (mut depth, mut items, mut item) = (0, Vec::new(), String::new());
    for c in rest[1..].chars() {
        match c {
            '{' => depth += 1,
            '}' if depth == 0 => break,
            '}' => depth -= 1,
            ',' if depth == 0 => {
                items.push(std::mem::take(&mut item));
                continue;
            }
            _ => {}
        }
        item.push(c);
    }
    items.push(item);
    items
        .iter()
        .map(|i| i.split_whitespace().collect::<String>())
        .filter(|i| !i.is_empty())
        .flat_map(|i| expand(&i).into_iter().map(|e| format!("{head}{e}")).collect::<Vec<_>>())
        .collect()
}

/// The module that defines `item`, when `module` only re-exports it
/// (`pub use account::{AccountConfig, ..}`): the users of the item depend
/// on where it is, not on the folder that names it.
fn defined_in(module: &[String], item: &str, sources: &BTreeMap<Vec<String>, String>) -> Option<Vec<String>> {
    let text = sources.get(module)?;
    for line in product_code(text)
        .lines()
        .filter(|l| l.trim_start().starts_with("pub use ") || l.trim_start().starts_with("pub(crate) use "))
    {
        let path =
            line.trim().trim_start_matches("pub(crate) use ").trim_start_matches("pub use ").trim_end_matches(';');
        for full in expand(path) {
            let parts: Vec<&str> = full.split("::").collect();
            if parts.last() != Some(&item) || parts.len() < 2 || matches!(parts[0], "crate" | "super" | "std") {
                continue;
            }
            let mut target = module.to_vec();
            target.extend(parts[..parts.len() - 1].iter().map(|p| (*p).to_owned()));
            if sources.contains_key(&target) {
                return Some(target);
            }
        }
    }
    None
}

/// Every module a file refers to (`use crate::a::b`, `crate::a::B::c(`,
/// `super::x`), resolved to the module that defines what it names.
fn references(module: &[String], sources: &BTreeMap<Vec<String>, String>) -> BTreeSet<Vec<String>> {
    let code = &product_code(&sources[module]);
    let mut paths: Vec<Vec<String>> = Vec::new();
    for (i, _) in code.match_indices("crate::").chain(code.match_indices("super::")) {
        if code[..i].ends_with(|c: char| c.is_alphanumeric() || c == '_') {
            continue; // `tokentray_core::...`, `my_crate::`: another crate
        }
        for tail in expand(&code[i..]) {
            let mut parts: Vec<String> = tail.split("::").filter(|p| !p.is_empty()).map(str::to_owned).collect();
            let mut base: Vec<String> = Vec::new();
            if parts.first().map(String::as_str) == Some("super") {
                base = module.to_vec();
                while parts.first().map(String::as_str) == Some("super") {
                    parts.remove(0);
                    base.pop();
                }
            } else {
                parts.remove(0);
            }
            let mut path = base;
            path.extend(parts);
            paths.push(path);
        }
    }
    let mut found = BTreeSet::new();
    for path in paths {
        // The deepest module the path names, then the item it names there.
        let mut depth = path.len();
        while depth > 0 && !sources.contains_key(&path[..depth]) {
            depth -= 1;
        }
        let mut target = path[..depth].to_vec();
        let mut rest = &path[depth..];
        while let Some(item) = rest.first() {
            match defined_in(&target, item, sources) {
                Some(deeper) if deeper != target => {
                    target = deeper;
                    rest = &rest[1..];
                }
                _ => break,
            }
        }
        found.insert(target);
    }
    found.remove(module);
    found
}

#[test]
fn no_module_reaches_back_to_itself() {
    let mut cycles = Vec::new();
    for (krate, src) in source_roots() {
        let mut files = Vec::new();
        rust_files(&src, &mut files);
        let sources: BTreeMap<Vec<String>, String> = files
            .iter()
            .map(|f| {
                let relative = f.strip_prefix(&src).unwrap().to_string_lossy().replace('\\', "/");
                (module_of(&relative), std::fs::read_to_string(f).unwrap())
            })
            .collect();
        // The runtime's engine is the hub: every room is an `impl Engine` and
        // the engine holds every room's state. Edges into it are its nature.
        let hub = |m: &Vec<String>| krate == "tokentray-runtime" && m.first().map(String::as_str) == Some("engine");
        let graph: BTreeMap<Vec<String>, BTreeSet<Vec<String>>> = sources
            .keys()
            .map(|m| {
                let refs = references(m, &sources)
                    .into_iter()
                    // A parent naming its children (`mod x; pub use x::Y`) is
                    // structure, not a use, and the crate root re-exports for
                    // other crates: both were resolved to where things are.
                    .filter(|r| !(r.starts_with(m) || m.is_empty() || r.is_empty() || hub(r) || hub(m)))
                    .collect();
                (m.clone(), refs)
            })
            .collect();
        for start in graph.keys() {
            // A path back to `start`, if any.
            let mut stack = vec![(start.clone(), vec![start.clone()])];
            let mut seen = BTreeSet::new();
            while let Some((at, trail)) = stack.pop() {
                for next in graph.get(&at).into_iter().flatten() {
                    if next == start {
                        let names: Vec<String> = trail.iter().chain([start]).map(|m| m.join("::")).collect();
                        cycles.push(format!("{krate}: {}", names.join(" -> ")));
                    } else if seen.insert(next.clone()) {
                        let mut t = trail.clone();
                        t.push(next.clone());
                        stack.push((next.clone(), t));
                    }
                }
            }
        }
    }
    cycles.sort();
    cycles.dedup();
    assert!(cycles.is_empty(), "modules that reach back to themselves:\n{}", cycles.join("\n"));
}
