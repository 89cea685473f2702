//! The runtime's layers import one way (issue 15).
//!
//! Reads every `src/**/*.rs`, collects the crate-internal paths it names (`crate::x`, `$crate::x`,
//! `crate::{x, y::z}` groups, and `super::` chains that climb out of a top-level module), maps
//! each file to its top-level module of `src/`, and checks every edge between two top-level
//! modules against [`LAYERS`]: a module may name only modules in layers *below* its own. Test
//! code in `src/` counts too (a `#[cfg(test)]` module that reaches up is still an import that
//! runs back up). Comments, doc comments and string literals are skipped, so intra-doc links
//! (`[Sleep](crate::time::Sleep)`) are not imports.
//!
//! A top-level module missing from [`LAYERS`] fails the test: a new module must be given a
//! place. The crate root `lib.rs` (`go`, `go_blocking`, `block_on`...: thin wrappers over the
//! runtime) is the node `crate`; its inline `prelude` module is a node of its own, at the top.
//! A `#[macro_export]` macro, though it lives at the crate root, belongs to the module that
//! defines it.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// The layers, top to bottom. A module may import any module of a lower layer, none of its own
/// layer or above. (`docs/design.md`, "Layers", draws the same picture.)
const LAYERS: &[&[&str]] = &[
    // Re-exports of the common names.
    &["prelude"],
    // Built on the user-facing primitives below.
    &["hyper", "errgroup"],
    &["context", "net", "signal", "io"],
    &["time"],
    // Plain futures with wakers, gorun's runtime only for the coop budget, wait reasons and
    // blocking calls from plain threads.
    &["chan", "sync"],
    // `go`, `go_blocking`, `block_on`, `yield_now`, `num_goroutine`.
    &["crate"],
    // Scheduler, tasks, blocking pool, deadlock detection, dump.
    &["runtime"],
    // epoll, timer wheels, deadlines.
    &["reactor"],
    // Leaf primitives: the spin lock, the coop budget, wait reasons, thread accounting; the
    // random source.
    &["util", "rand"],
    // std or loom types.
    &["loom"],
];

#[derive(Debug, Clone, PartialEq, Eq)]
enum Tok {
    Ident(String),
    /// `::`
    Path,
    Punct(char),
}

/// Tokens of Rust source, without comments, strings, chars and lifetimes.
fn lex(src: &str) -> Vec<Tok> {
    let c: Vec<char> = src.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    let at = |i: usize| c.get(i).copied().unwrap_or('\0');
    while i < c.len() {
        let ch = c[i];
        if ch == '/' && at(i + 1) == '/' {
            while i < c.len() && c[i] != '\n' {
                i += 1;
            }
        } else if ch == '/' && at(i + 1) == '*' {
            let mut depth = 0;
            while i < c.len() {
                if c[i] == '/' && at(i + 1) == '*' {
                    depth += 1;
                    i += 2;
                } else if c[i] == '*' && at(i + 1) == '/' {
                    depth -= 1;
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    i += 1;
                }
            }
        } else if ch == '"' {
            i = skip_string(&c, i + 1);
        } else if (ch == 'r' || ch == 'b') && is_raw_or_byte_string(&c, i) {
            // r"..", r#".."#, b"..", br#".."#
            let mut j = i + 1;
            if c[i] == 'b' && at(j) == 'r' {
                j += 1;
            }
            if c[i] == 'b' && at(i + 1) == '"' {
                i = skip_string(&c, i + 2);
                continue;
            }
            let mut hashes = 0;
            while at(j) == '#' {
                hashes += 1;
                j += 1;
            }
            // at(j) == '"'
            j += 1;
            loop {
                if j >= c.len() {
                    break;
                }
                if c[j] == '"' && (0..hashes).all(|k| at(j + 1 + k) == '#') {
                    j += 1 + hashes;
                    break;
                }
                j += 1;
            }
            i = j;
        } else if ch == '\'' {
            if at(i + 1) == '\\' {
                // '\n', '\'', '\u{..}'
                let mut j = i + 2;
                while j < c.len() && c[j] != '\'' {
                    j += 1;
                }
                i = j + 1;
            } else if at(i + 2) == '\'' {
                i += 3; // 'x'
            } else {
                i += 1; // a lifetime: its name lexes as an identifier, harmlessly
            }
        } else if ch.is_alphabetic() || ch == '_' {
            let s = i;
            while i < c.len() && (c[i].is_alphanumeric() || c[i] == '_') {
                i += 1;
            }
            out.push(Tok::Ident(c[s..i].iter().collect()));
        } else if ch == ':' && at(i + 1) == ':' {
            out.push(Tok::Path);
            i += 2;
        } else if ch.is_whitespace() || ch.is_numeric() {
            i += 1;
        } else {
            out.push(Tok::Punct(ch));
            i += 1;
        }
    }
    out
}

fn is_raw_or_byte_string(c: &[char], i: usize) -> bool {
    // Not the tail of an identifier (`for"`, `bar#`).
    if i > 0 && (c[i - 1].is_alphanumeric() || c[i - 1] == '_') {
        return false;
    }
    let mut j = i + 1;
    if c[i] == 'b' && c.get(j) == Some(&'r') {
        j += 1;
    } else if c[i] == 'b' {
        return c.get(j) == Some(&'"');
    }
    while c.get(j) == Some(&'#') {
        j += 1;
    }
    c.get(j) == Some(&'"')
}

/// Index after the closing quote of a string whose body starts at `i`.
fn skip_string(c: &[char], mut i: usize) -> usize {
    while i < c.len() {
        match c[i] {
            '\\' => i += 2,
            '"' => return i + 1,
            _ => i += 1,
        }
    }
    i
}

fn ident(t: Option<&Tok>) -> Option<&str> {
    match t {
        Some(Tok::Ident(s)) => Some(s),
        _ => None,
    }
}

/// The first segment of each path a `use`-style tail names, starting at `toks[i]` (just after
/// a `::`): `x` or `{x::a, y, z::{..}}`. `self` in a group names the prefix itself (skipped).
fn first_segments(toks: &[Tok], i: usize) -> Vec<String> {
    match toks.get(i) {
        Some(Tok::Ident(s)) => vec![s.clone()],
        Some(Tok::Punct('{')) => {
            let mut out = Vec::new();
            let mut depth = 0;
            let mut expect = true;
            for t in &toks[i..] {
                match t {
                    Tok::Punct('{') => {
                        depth += 1;
                    }
                    Tok::Punct('}') => {
                        depth -= 1;
                        if depth == 0 {
                            break;
                        }
                    }
                    Tok::Punct(',') if depth == 1 => expect = true,
                    Tok::Ident(s) if depth == 1 && expect => {
                        if s != "self" {
                            out.push(s.clone());
                        }
                        expect = false;
                    }
                    _ => {}
                }
            }
            out
        }
        _ => vec![],
    }
}

/// One reference from a file to something at the top of the crate: the first path segment
/// after `crate::` (or after `super::`s that reach the crate root), and the module path
/// (file's plus inline `mod`s) it was found in.
#[derive(Debug)]
struct Reference {
    /// The inline-`mod`-extended module path where the reference sits.
    module: Vec<String>,
    name: String,
}

/// Crate-root references in one file whose own module path is `file_module`.
fn references(toks: &[Tok], file_module: &[String]) -> Vec<Reference> {
    let mut out = Vec::new();
    let mut inline: Vec<(String, usize)> = Vec::new();
    let mut depth = 0usize;
    let mut i = 0;
    while i < toks.len() {
        let here = || -> Vec<String> {
            let mut m = file_module.to_vec();
            m.extend(inline.iter().map(|(n, _)| n.clone()));
            m
        };
        match &toks[i] {
            Tok::Punct('{') => depth += 1,
            Tok::Punct('}') => {
                depth = depth.saturating_sub(1);
                if inline.last().is_some_and(|(_, d)| *d == depth) {
                    inline.pop();
                }
            }
            Tok::Ident(kw) if kw == "mod" => {
                if let (Some(name), Some(Tok::Punct('{'))) =
                    (ident(toks.get(i + 1)), toks.get(i + 2))
                {
                    inline.push((name.to_string(), depth));
                    depth += 1;
                    i += 3;
                    continue;
                }
            }
            Tok::Ident(kw) if kw == "crate" && toks.get(i + 1) == Some(&Tok::Path) => {
                let module = here();
                for name in first_segments(toks, i + 2) {
                    out.push(Reference {
                        module: module.clone(),
                        name,
                    });
                }
            }
            Tok::Ident(kw)
                if kw == "super"
                    && toks.get(i + 1) == Some(&Tok::Path)
                    && i.checked_sub(1).map(|p| &toks[p]) != Some(&Tok::Path) =>
            {
                let module = here();
                let mut j = i;
                let mut ups = 0;
                while ident(toks.get(j)) == Some("super") && toks.get(j + 1) == Some(&Tok::Path) {
                    ups += 1;
                    j += 2;
                }
                if ups >= module.len() {
                    // Climbs to the crate root: `toks[j..]` names a top-level item.
                    for name in first_segments(toks, j) {
                        out.push(Reference {
                            module: module.clone(),
                            name,
                        });
                    }
                }
                i = j;
                continue;
            }
            _ => {}
        }
        i += 1;
    }
    out
}

/// The module path of a file under `src/`: `lib.rs` is `[]`, `a.rs` and `a/mod.rs` are `[a]`.
fn module_path(rel: &Path) -> Vec<String> {
    let mut parts: Vec<String> = rel
        .iter()
        .map(|p| p.to_string_lossy().into_owned())
        .collect();
    let last = parts.pop().expect("a file name");
    let stem = last.trim_end_matches(".rs");
    if stem != "mod" && !(parts.is_empty() && stem == "lib") {
        parts.push(stem.to_string());
    }
    parts
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).expect("read src/") {
        let p = e.expect("dir entry").path();
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

/// `(from, to) -> files` over top-level modules, for the crate rooted at `src`.
fn edges(src: &Path) -> BTreeMap<(String, String), BTreeSet<String>> {
    let mut files = Vec::new();
    rust_files(src, &mut files);
    files.sort();
    let parsed: Vec<(String, Vec<String>, Vec<Tok>)> = files
        .iter()
        .map(|f| {
            let rel = f.strip_prefix(src).unwrap();
            let text = std::fs::read_to_string(f).unwrap();
            (rel.display().to_string(), module_path(rel), lex(&text))
        })
        .collect();
    // Top-level modules: the files and folders of `src/`, and `lib.rs`'s inline modules.
    let mut tops: BTreeSet<String> = parsed
        .iter()
        .filter_map(|(_, m, _)| m.first().cloned())
        .collect();
    // Exported macros live at the root but belong to the module that defines them.
    let mut macros: BTreeMap<String, String> = BTreeMap::new();
    for (_, module, toks) in &parsed {
        if module.is_empty() {
            for w in toks.windows(3) {
                if let [Tok::Ident(m), Tok::Ident(n), Tok::Punct('{')] = w {
                    if m == "mod" {
                        tops.insert(n.clone());
                    }
                }
            }
        }
        for w in toks.windows(3) {
            if let [Tok::Ident(m), Tok::Punct('!'), Tok::Ident(n)] = w {
                if m == "macro_rules" {
                    let owner = module.first().cloned().unwrap_or_else(|| "crate".into());
                    macros.insert(n.clone(), owner);
                }
            }
        }
    }
    let mut out: BTreeMap<(String, String), BTreeSet<String>> = BTreeMap::new();
    for (rel, module, toks) in &parsed {
        for r in references(toks, module) {
            let from = r.module.first().cloned().unwrap_or_else(|| "crate".into());
            let to = if tops.contains(&r.name) {
                r.name.clone()
            } else if let Some(owner) = macros.get(&r.name) {
                owner.clone()
            } else {
                "crate".into()
            };
            if from != to {
                out.entry((from, to)).or_default().insert(rel.clone());
            }
        }
    }
    out
}

fn layer_of(module: &str) -> Option<usize> {
    LAYERS.iter().position(|l| l.contains(&module))
}

/// Every edge that does not go strictly down [`LAYERS`], as readable lines.
fn violations(edges: &BTreeMap<(String, String), BTreeSet<String>>) -> Vec<String> {
    let mut bad = Vec::new();
    for ((from, to), files) in edges {
        let files = files.iter().cloned().collect::<Vec<_>>().join(", ");
        match (layer_of(from), layer_of(to)) {
            (Some(a), Some(b)) if a < b => {}
            (Some(_), Some(_)) => bad.push(format!("{from} -> {to} runs up or sideways ({files})")),
            (None, _) => bad.push(format!("{from} has no layer in LAYERS ({files})")),
            (_, None) => bad.push(format!("{to} has no layer in LAYERS (named by {files})")),
        }
    }
    bad
}

/// The modules on some cycle of `edges` (empty if it is acyclic).
fn cycles(edges: &BTreeMap<(String, String), BTreeSet<String>>) -> Vec<Vec<String>> {
    let nodes: BTreeSet<&String> = edges.keys().flat_map(|(a, b)| [a, b]).collect();
    let reaches = |from: &String, to: &String| -> bool {
        let mut seen = BTreeSet::new();
        let mut stack = vec![from];
        while let Some(n) = stack.pop() {
            for (a, b) in edges.keys() {
                if a == n && seen.insert(b) {
                    if b == to {
                        return true;
                    }
                    stack.push(b);
                }
            }
        }
        false
    };
    // Strongly connected components of size > 1 (no self-edges are recorded).
    let mut done = BTreeSet::new();
    let mut out = Vec::new();
    for n in &nodes {
        if done.contains(*n) {
            continue;
        }
        let scc: Vec<String> = nodes
            .iter()
            .filter(|m| *m == n || (reaches(n, m) && reaches(m, n)))
            .map(|m| m.to_string())
            .collect();
        for m in &scc {
            done.insert(m.clone());
        }
        if scc.len() > 1 {
            out.push(scc);
        }
    }
    out
}

#[test]
fn layers_import_one_way() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let edges = edges(&src);
    // The scan sees the imports that must be there: an empty scan would pass vacuously.
    for (from, to) in [
        ("runtime", "reactor"),
        ("time", "reactor"),
        ("chan", "runtime"),
    ] {
        assert!(
            edges.contains_key(&(from.to_string(), to.to_string())),
            "the scan missed {from} -> {to}: {edges:#?}"
        );
    }
    let bad = violations(&edges);
    let cycles = cycles(&edges);
    assert!(
        bad.is_empty() && cycles.is_empty(),
        "imports that run back up the layers:\n  {}\ncycles between top-level modules: {cycles:?}",
        bad.join("\n  ")
    );
}

/// `docs/design.md`'s "Layers" drawing lists the same rows as [`LAYERS`], in the same order.
#[test]
fn the_design_doc_draws_the_same_layers() {
    let doc = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/design.md"))
        .expect("docs/design.md");
    let section = doc
        .split("\n## Layers\n")
        .nth(1)
        .expect("a \"## Layers\" section in docs/design.md");
    let drawing = section
        .split("```")
        .nth(1)
        .expect("a drawing in a code block in the Layers section");
    let known: BTreeSet<&str> = LAYERS.iter().flat_map(|l| l.iter().copied()).collect();
    // Each row starts with its modules' names; what follows is description.
    let rows: Vec<BTreeSet<String>> = drawing
        .lines()
        .map(|line| {
            line.split_whitespace()
                .map(|w| w.trim_matches(|c: char| !c.is_alphanumeric() && c != '_'))
                .take_while(|w| known.contains(w))
                .map(str::to_string)
                .collect::<BTreeSet<String>>()
        })
        .filter(|row| !row.is_empty())
        .collect();
    let layers: Vec<BTreeSet<String>> = LAYERS
        .iter()
        .map(|l| l.iter().map(|m| m.to_string()).collect())
        .collect();
    assert_eq!(
        rows, layers,
        "docs/design.md's Layers drawing and LAYERS differ"
    );
}

#[test]
fn the_layers_name_each_module_once() {
    let all: Vec<&str> = LAYERS.iter().flat_map(|l| l.iter().copied()).collect();
    let set: BTreeSet<&str> = all.iter().copied().collect();
    assert_eq!(all.len(), set.len(), "a module is in two layers");
}

/// The scanner on small pieces of source, so that a blind scanner cannot pass the check.
#[test]
fn the_scanner_finds_paths_and_skips_the_rest() {
    let names = |src: &str, module: &[&str]| -> Vec<(Vec<String>, String)> {
        let module: Vec<String> = module.iter().map(|s| s.to_string()).collect();
        references(&lex(src), &module)
            .into_iter()
            .map(|r| (r.module, r.name))
            .collect()
    };
    let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
    assert_eq!(
        names(
            "use crate::chan::lock::X; fn f() { crate::time::sleep(d); }",
            &["reactor"]
        ),
        [
            (s(&["reactor"]), "chan".into()),
            (s(&["reactor"]), "time".into())
        ]
    );
    assert_eq!(
        names(
            "use crate::{chan::{a, b}, self, runtime};",
            &["time", "sleep"]
        ),
        [
            (s(&["time", "sleep"]), "chan".into()),
            (s(&["time", "sleep"]), "runtime".into())
        ]
    );
    // Comments, doc links, strings and chars are not imports; `pub(crate)` is not a path.
    assert!(names(
        "/// [x](crate::time::Sleep)\n// crate::chan\n/* crate::a /* nested */ crate::b */\n\
         pub(crate) fn f() { let _ = \"crate::net\"; let _ = r#\"crate::io\"#; let _ = '\"'; }",
        &["runtime"]
    )
    .is_empty());
    // `$crate` in a macro, and lifetimes do not confuse the lexer.
    assert_eq!(
        names(
            "fn f<'a>(x: &'a u8) { $crate::runtime::go() }",
            &["chan", "select"]
        ),
        [(s(&["chan", "select"]), "runtime".into())]
    );
    // `super` chains: out of `a::b` two levels reach the root; inside an inline `mod tests`,
    // one more is needed.
    assert_eq!(
        names("use super::super::time::X;", &["reactor", "timers"]),
        [(s(&["reactor", "timers"]), "time".into())]
    );
    assert!(names("use super::super::Driver;", &["reactor", "source", "x"]).is_empty());
    assert!(names(
        "mod tests { use super::super::Driver; }",
        &["reactor", "source"]
    )
    .is_empty());
    assert_eq!(
        names(
            "mod tests { fn f() {} } use super::super::net::X;",
            &["reactor", "source"]
        ),
        [(s(&["reactor", "source"]), "net".into())]
    );
    // Inline modules of the root are modules of their own.
    assert_eq!(
        names("pub mod prelude { pub use crate::chan::chan; }", &[]),
        [(s(&["prelude"]), "chan".into())]
    );
}

#[test]
fn the_checks_flag_an_upward_import_and_a_cycle() {
    let e = |pairs: &[(&str, &str)]| -> BTreeMap<(String, String), BTreeSet<String>> {
        pairs
            .iter()
            .map(|(a, b)| {
                (
                    (a.to_string(), b.to_string()),
                    BTreeSet::from(["f.rs".to_string()]),
                )
            })
            .collect()
    };
    assert!(violations(&e(&[("time", "runtime"), ("runtime", "reactor")])).is_empty());
    assert_eq!(violations(&e(&[("reactor", "chan")])).len(), 1);
    assert_eq!(violations(&e(&[("reactor", "newmodule")])).len(), 1);
    assert!(cycles(&e(&[("time", "runtime"), ("runtime", "reactor")])).is_empty());
    assert_eq!(
        cycles(&e(&[("a", "b"), ("b", "c"), ("c", "a"), ("c", "d")])),
        [vec!["a".to_string(), "b".into(), "c".into()]]
    );
}
