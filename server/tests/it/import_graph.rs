//! The import graph of each crate has no cycle between its top-level modules, and the dashboard's
//! pages are leaves (a page never imports another page, and nothing but the router imports a
//! page). A cycle is how "who may use whom" silently rots: a new `use crate::…` that closes one
//! fails here, naming the modules and the files that import each other.
//!
//! The graph is read from the source text: every `crate::<module>` path outside comments, by
//! file, collapsed to the file's top-level module (`server/src/live/execute.rs` → `live`).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// `(importing top-level module, imported top-level module)` → the files that import it.
type Edges = BTreeMap<(String, String), BTreeSet<String>>;

/// One source file: its module path, its path as shown in messages, the top-level modules it
/// names through `crate::`.
type SourceFile = (Vec<String>, String, BTreeSet<String>);

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap_or_else(|e| panic!("reading {}: {e}", dir.display()))
    {
        let path = entry.expect("directory entry").path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The module path of a source file relative to `src`: `live/execute.rs` → `["live", "execute"]`,
/// `live/mod.rs` → `["live"]`, `lib.rs` → `[]`.
fn module_path(src: &Path, file: &Path) -> Vec<String> {
    let rel = file
        .strip_prefix(src)
        .expect("file under src")
        .with_extension("");
    let mut parts: Vec<String> = rel
        .iter()
        .map(|p| p.to_string_lossy().into_owned())
        .collect();
    if matches!(
        parts.last().map(String::as_str),
        Some("mod" | "lib" | "main")
    ) {
        parts.pop();
    }
    parts
}

/// The source without `//` comments (doc links name modules without importing them) and without
/// string literals' contents.
fn code_only(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for line in text.lines() {
        let mut in_str = false;
        let mut prev = '\0';
        let mut kept = String::new();
        let chars: Vec<char> = line.chars().collect();
        let mut i = 0;
        while i < chars.len() {
            let c = chars[i];
            if !in_str && c == '/' && chars.get(i + 1) == Some(&'/') {
                break;
            }
            if c == '"' && prev != '\\' {
                in_str = !in_str;
                kept.push(c);
            } else if !in_str {
                kept.push(c);
            }
            prev = c;
            i += 1;
        }
        out.push_str(&kept);
        out.push('\n');
    }
    out
}

/// Every `crate::name` in `code`.
fn crate_paths(code: &str) -> Vec<String> {
    let mut found = Vec::new();
    let bytes = code.as_bytes();
    let mut from = 0;
    while let Some(pos) = code[from..].find("crate::") {
        let start = from + pos;
        let boundary = start == 0
            || !(bytes[start - 1].is_ascii_alphanumeric()
                || bytes[start - 1] == b'_'
                || bytes[start - 1] == b':');
        let name_start = start + "crate::".len();
        let name: String = code[name_start..]
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect();
        if boundary && !name.is_empty() {
            found.push(name);
        }
        from = name_start;
    }
    found
}

fn crate_edges(crate_dir: &str) -> (Edges, Vec<SourceFile>) {
    let src = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join(crate_dir)
        .join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let mut edges = Edges::new();
    let mut per_file = Vec::new();
    for file in files {
        let module = module_path(&src, &file);
        let text = std::fs::read_to_string(&file).expect("source file");
        let imports: BTreeSet<String> = crate_paths(&code_only(&text)).into_iter().collect();
        let shown = format!(
            "{crate_dir}/src/{}",
            file.strip_prefix(&src).unwrap().display()
        );
        if let Some(top) = module.first() {
            for imported in &imports {
                if imported != top {
                    edges
                        .entry((top.clone(), imported.clone()))
                        .or_default()
                        .insert(shown.clone());
                }
            }
        }
        per_file.push((module, shown, imports));
    }
    (edges, per_file)
}

/// The strongly connected components with more than one module (Tarjan).
fn cycles(edges: &Edges) -> Vec<Vec<String>> {
    struct Tarjan<'a> {
        next: BTreeMap<&'a str, Vec<&'a str>>,
        index: BTreeMap<&'a str, usize>,
        low: BTreeMap<&'a str, usize>,
        stack: Vec<&'a str>,
        on_stack: BTreeSet<&'a str>,
        counter: usize,
        found: Vec<Vec<String>>,
    }
    impl<'a> Tarjan<'a> {
        fn visit(&mut self, v: &'a str) {
            self.index.insert(v, self.counter);
            self.low.insert(v, self.counter);
            self.counter += 1;
            self.stack.push(v);
            self.on_stack.insert(v);
            for w in self.next.get(v).cloned().unwrap_or_default() {
                if !self.index.contains_key(w) {
                    self.visit(w);
                    let low = self.low[v].min(self.low[w]);
                    self.low.insert(v, low);
                } else if self.on_stack.contains(w) {
                    let low = self.low[v].min(self.index[w]);
                    self.low.insert(v, low);
                }
            }
            if self.low[v] == self.index[v] {
                let mut component = Vec::new();
                while let Some(w) = self.stack.pop() {
                    self.on_stack.remove(w);
                    component.push(w.to_string());
                    if w == v {
                        break;
                    }
                }
                if component.len() > 1 {
                    component.sort();
                    self.found.push(component);
                }
            }
        }
    }
    let mut next: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for (from, to) in edges.keys() {
        next.entry(from).or_default().push(to);
        next.entry(to).or_default();
    }
    let nodes: Vec<&str> = next.keys().copied().collect();
    let mut t = Tarjan {
        next,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        on_stack: BTreeSet::new(),
        counter: 0,
        found: Vec::new(),
    };
    for v in nodes {
        if !t.index.contains_key(v) {
            t.visit(v);
        }
    }
    t.found
}

fn assert_acyclic(crate_dir: &str) {
    let (edges, _) = crate_edges(crate_dir);
    let found = cycles(&edges);
    let report: Vec<String> = found
        .iter()
        .map(|component| {
            let members: BTreeSet<&String> = component.iter().collect();
            let arrows: Vec<String> = edges
                .iter()
                .filter(|((a, b), _)| members.contains(a) && members.contains(b))
                .map(|((a, b), files)| {
                    format!(
                        "  {a} -> {b} ({})",
                        files.iter().cloned().collect::<Vec<_>>().join(", ")
                    )
                })
                .collect();
            format!(
                "cycle between {}:\n{}",
                component.join(", "),
                arrows.join("\n")
            )
        })
        .collect();
    assert!(
        report.is_empty(),
        "{crate_dir}: the top-level modules import each other in a cycle\n{}",
        report.join("\n")
    );
}

#[test]
fn server_modules_form_no_cycle() {
    assert_acyclic("server");
}

#[test]
fn shared_modules_form_no_cycle() {
    assert_acyclic("shared");
}

#[test]
fn app_modules_form_no_cycle() {
    assert_acyclic("app");
}

/// A page is a leaf: it never imports another page, and only the router (`lib.rs`, `pages/mod.rs`)
/// imports pages. Helpers two pages need live in their own module (`spec.rs`, `format.rs`, `chart/`).
#[test]
fn app_pages_are_leaves() {
    let (_, files) = crate_edges("app");
    let pages: BTreeSet<String> = files
        .iter()
        .filter(|(module, _, _)| module.len() == 2 && module[0] == "pages")
        .map(|(module, _, _)| module[1].clone())
        .collect();
    let mut wrong = Vec::new();
    for (module, shown, _) in &files {
        // The router, and the overview page (`/`), which is composed of the portfolio and data
        // sections (there is no separate `/portfolio` route).
        let router = module.is_empty()
            || module.as_slice() == ["pages".to_string()]
            || module.as_slice() == ["pages".to_string(), "overview".to_string()];
        if router {
            continue;
        }
        let text =
            std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(shown))
                .expect("source");
        let code = code_only(&text);
        let own_page = (module[0] == "pages").then(|| module.get(1)).flatten();
        let mut named = Vec::new();
        for prefix in ["crate::pages::", "pages::", "super::"] {
            if prefix == "super::" && own_page.is_none() {
                continue;
            }
            for (i, _) in code.match_indices(prefix) {
                let name: String = code[i + prefix.len()..]
                    .chars()
                    .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                    .collect();
                if pages.contains(&name) && Some(&name) != own_page {
                    named.push(name);
                }
            }
        }
        if !named.is_empty() {
            wrong.push(format!("{shown} imports pages {named:?}"));
        }
    }
    assert!(
        wrong.is_empty(),
        "a page is imported as a library (move what is shared into its own module):\n{}",
        wrong.join("\n")
    );
}

#[test]
fn the_checker_finds_a_cycle() {
    let mut edges = Edges::new();
    edges.insert(("a".into(), "b".into()), BTreeSet::new());
    edges.insert(("b".into(), "c".into()), BTreeSet::new());
    edges.insert(("c".into(), "a".into()), BTreeSet::new());
    edges.insert(("c".into(), "d".into()), BTreeSet::new());
    assert_eq!(
        cycles(&edges),
        vec![vec!["a".to_string(), "b".into(), "c".into()]]
    );
    assert_eq!(
        crate_paths("use crate::live::x; x::crate::no; foo_crate::y"),
        vec!["live".to_string()]
    );
    assert_eq!(
        code_only("let a = \"crate::web\"; // crate::api\n"),
        "let a = \"\"; \n"
    );
}
