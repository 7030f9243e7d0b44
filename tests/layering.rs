//! The module layering of `src/` holds: every `crate::` edge between top-level modules points
//! down the graph written in docs/decisions/0001-layout-and-errors.md.
//!
//! The allowed graph is read from that document (its fenced `layers` block), so the document and
//! the rule cannot drift apart. Each source file is parsed with `syn`; the edges are the `use
//! crate::...` trees and every `crate::` path, in code and in macro input. Items under
//! `#[cfg(test)]` are skipped: tests may reach across layers to check what they check.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use proc_macro2::{TokenStream, TokenTree};
use syn::visit::Visit;

const DECISION: &str = "docs/decisions/0001-layout-and-errors.md";

/// The allowed graph: each module's layer (0 is the top), and edges allowed within one layer.
#[derive(Debug, Default)]
struct Layers {
    rank: BTreeMap<String, usize>,
    sideways: BTreeSet<(String, String)>,
}

impl Layers {
    /// Reads the fenced block that starts with ```` ```text layers ````: one layer a line, top
    /// first, modules separated by spaces; a line `a -> b` allows `a` to use `b` in its layer.
    /// `#` starts a comment.
    fn parse(doc: &str) -> Layers {
        let block = doc
            .split("```text layers\n")
            .nth(1)
            .and_then(|rest| rest.split("```").next())
            .unwrap_or_else(|| panic!("{DECISION} has no ```text layers block"));
        let mut layers = Layers::default();
        let mut next = 0;
        for line in block.lines() {
            let line = line.split('#').next().unwrap_or_default().trim();
            if line.is_empty() {
                continue;
            }
            if let Some((from, to)) = line.split_once("->") {
                layers
                    .sideways
                    .insert((from.trim().to_owned(), to.trim().to_owned()));
                continue;
            }
            for module in line.split_whitespace() {
                let previous = layers.rank.insert(module.to_owned(), next);
                assert!(
                    previous.is_none(),
                    "{module} is in two layers of {DECISION}"
                );
            }
            next += 1;
        }
        for (from, to) in &layers.sideways {
            assert_eq!(
                layers.rank.get(from),
                layers.rank.get(to),
                "`{from} -> {to}` in {DECISION} must join two modules of one layer"
            );
        }
        layers
    }

    /// Why `from` may not use `to`, or `None` when it may.
    fn refuses(&self, from: &str, to: &str) -> Option<String> {
        let (Some(f), Some(t)) = (self.rank.get(from), self.rank.get(to)) else {
            return Some(format!(
                "`{from}` or `{to}` is missing from the layers in {DECISION}"
            ));
        };
        let allowed = t > f || (t == f && self.sideways.contains(&(from.into(), to.into())));
        (!allowed).then(|| format!("`{from}` (layer {f}) may not use `{to}` (layer {t})"))
    }
}

/// One `crate::` use: the module named right after `crate::`, and where it was found.
#[derive(Debug)]
struct Edge {
    to: String,
    file: PathBuf,
}

/// Collects the top-level module names after `crate::` in one file.
struct Collector<'a> {
    file: &'a Path,
    /// How deep the code being read is below its top-level module: a `super::` path that climbs
    /// past that names a top-level module too.
    depth: usize,
    edges: Vec<Edge>,
    /// `mod name;` declarations outside `#[cfg(test)]`, to follow into their files.
    children: Vec<String>,
}

impl Collector<'_> {
    fn add(&mut self, to: &syn::Ident) {
        self.edges.push(Edge {
            to: to.to_string(),
            file: self.file.to_owned(),
        });
    }

    /// `crate :: name` sequences in macro input, which `syn` leaves unparsed.
    fn scan_tokens(&mut self, tokens: TokenStream) {
        let tokens: Vec<TokenTree> = tokens.into_iter().collect();
        for (i, token) in tokens.iter().enumerate() {
            match token {
                TokenTree::Group(group) => self.scan_tokens(group.stream()),
                TokenTree::Ident(ident) if ident == "crate" => {
                    if let [
                        TokenTree::Punct(a),
                        TokenTree::Punct(b),
                        TokenTree::Ident(name),
                        ..,
                    ] = &tokens[i + 1..]
                        && a.as_char() == ':'
                        && b.as_char() == ':'
                    {
                        self.add(name);
                    }
                }
                _ => {}
            }
        }
    }
}

fn is_cfg_test(attrs: &[syn::Attribute]) -> bool {
    attrs.iter().any(|attr| {
        attr.path().is_ident("cfg") && {
            let args = attr
                .meta
                .require_list()
                .map(|l| l.tokens.to_string())
                .unwrap_or_default();
            args.split(|c: char| !c.is_alphanumeric() && c != '_')
                .any(|word| word == "test")
                && !args.contains("not")
        }
    })
}

fn item_attrs(item: &syn::Item) -> &[syn::Attribute] {
    use syn::Item::*;
    match item {
        Const(i) => &i.attrs,
        Enum(i) => &i.attrs,
        Fn(i) => &i.attrs,
        Impl(i) => &i.attrs,
        Macro(i) => &i.attrs,
        Mod(i) => &i.attrs,
        Static(i) => &i.attrs,
        Struct(i) => &i.attrs,
        Trait(i) => &i.attrs,
        Type(i) => &i.attrs,
        Use(i) => &i.attrs,
        _ => &[],
    }
}

impl<'ast> Visit<'ast> for Collector<'_> {
    fn visit_item(&mut self, item: &'ast syn::Item) {
        if is_cfg_test(item_attrs(item)) {
            return;
        }
        match item {
            syn::Item::Mod(module) if module.content.is_none() => {
                self.children.push(module.ident.to_string());
            }
            syn::Item::Mod(_) => {
                self.depth += 1;
                syn::visit::visit_item(self, item);
                self.depth -= 1;
                return;
            }
            _ => {}
        }
        syn::visit::visit_item(self, item);
    }

    fn visit_impl_item_fn(&mut self, f: &'ast syn::ImplItemFn) {
        if !is_cfg_test(&f.attrs) {
            syn::visit::visit_impl_item_fn(self, f);
        }
    }

    fn visit_use_tree(&mut self, tree: &'ast syn::UseTree) {
        // `crate::` or enough `super::`s to reach the crate root, then the module named.
        let mut rest = tree;
        let mut climbed = 0;
        while let syn::UseTree::Path(path) = rest {
            if path.ident == "crate" || climbed > self.depth {
                break;
            }
            if path.ident != "super" {
                return syn::visit::visit_use_tree(self, tree);
            }
            climbed += 1;
            rest = &path.tree;
        }
        let at_root = match rest {
            syn::UseTree::Path(path) if path.ident == "crate" => Some(&*path.tree),
            other if climbed > self.depth => Some(other),
            _ => None,
        };
        if let Some(root) = at_root {
            let mut names = Vec::new();
            top_names(root, &mut names);
            for name in names {
                self.add(name);
            }
            return;
        }
        syn::visit::visit_use_tree(self, tree);
    }

    fn visit_path(&mut self, path: &'ast syn::Path) {
        let segments: Vec<&syn::Ident> = path.segments.iter().map(|s| &s.ident).collect();
        let climbed = segments.iter().take_while(|i| **i == "super").count();
        let root = if segments.first().is_some_and(|i| *i == "crate") {
            Some(1)
        } else {
            (climbed > self.depth).then_some(self.depth + 1)
        };
        if let Some(name) = root.and_then(|i| segments.get(i)) {
            self.add(name);
        }
        syn::visit::visit_path(self, path);
    }

    fn visit_macro(&mut self, mac: &'ast syn::Macro) {
        self.scan_tokens(mac.tokens.clone());
        syn::visit::visit_macro(self, mac);
    }
}

/// The first names of a use tree under `crate::`: `{a::X, b}` gives `a` and `b`.
fn top_names<'a>(tree: &'a syn::UseTree, out: &mut Vec<&'a syn::Ident>) {
    match tree {
        syn::UseTree::Path(p) => out.push(&p.ident),
        syn::UseTree::Name(n) => out.push(&n.ident),
        syn::UseTree::Rename(r) => out.push(&r.ident),
        syn::UseTree::Group(g) => g.items.iter().for_each(|t| top_names(t, out)),
        syn::UseTree::Glob(_) => {}
    }
}

/// The file of module `name` declared in `parent` (a `mod.rs`, `lib.rs` or `name.rs`).
fn module_file(parent: &Path, name: &str) -> PathBuf {
    let stem = parent.file_stem().and_then(|s| s.to_str()).unwrap_or("");
    let dir = if matches!(stem, "mod" | "lib") {
        parent.parent().unwrap().to_owned()
    } else {
        parent.with_extension("")
    };
    let flat = dir.join(format!("{name}.rs"));
    if flat.exists() {
        flat
    } else {
        dir.join(name).join("mod.rs")
    }
}

/// Every `crate::` edge in the module rooted at `file` (`depth` levels below its top-level
/// module) and its non-test submodules.
fn edges_of(file: &Path, depth: usize) -> Vec<Edge> {
    let source = std::fs::read_to_string(file)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", file.display()));
    let syntax =
        syn::parse_file(&source).unwrap_or_else(|e| panic!("cannot parse {}: {e}", file.display()));
    let mut collector = Collector {
        file,
        depth,
        edges: Vec::new(),
        children: Vec::new(),
    };
    collector.visit_file(&syntax);
    let mut edges = collector.edges;
    for child in collector.children {
        edges.extend(edges_of(&module_file(file, &child), depth + 1));
    }
    edges
}

/// The top-level modules `src/lib.rs` declares, with their root files.
fn top_level_modules(root: &Path) -> Vec<(String, PathBuf)> {
    let lib = root.join("src/lib.rs");
    let syntax = syn::parse_file(&std::fs::read_to_string(&lib).unwrap()).unwrap();
    syntax
        .items
        .iter()
        .filter_map(|item| match item {
            syn::Item::Mod(m) if m.content.is_none() && !is_cfg_test(&m.attrs) => {
                let name = m.ident.to_string();
                Some((name.clone(), module_file(&lib, &name)))
            }
            _ => None,
        })
        .collect()
}

/// Every edge of the crate that the layers refuse, one line each.
fn violations(root: &Path, layers: &Layers) -> Vec<String> {
    let mut found = BTreeSet::new();
    for (module, file) in top_level_modules(root) {
        if !layers.rank.contains_key(&module) {
            found.insert(format!(
                "`{module}` is not placed in the layers of {DECISION}"
            ));
        }
        for edge in edges_of(&file, 0) {
            if edge.to == module {
                continue;
            }
            if let Some(why) = layers.refuses(&module, &edge.to) {
                let file = edge.file.strip_prefix(root).unwrap_or(&edge.file);
                found.insert(format!("{}: {why}", file.display()));
            }
        }
    }
    found.into_iter().collect()
}

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

#[test]
fn every_crate_edge_points_down_the_documented_layers() {
    let doc = std::fs::read_to_string(root().join(DECISION)).unwrap();
    let layers = Layers::parse(&doc);
    let violations = violations(&root(), &layers);
    assert!(
        violations.is_empty(),
        "these imports break the layering in {DECISION}:\n{}",
        violations.join("\n")
    );
}

/// Calls to methods named in `names` in the module rooted at `file` and its submodules.
fn method_calls(file: &Path, names: &[&str]) -> Vec<String> {
    struct Calls<'a> {
        names: &'a [&'a str],
        found: Vec<String>,
    }
    impl<'ast> Visit<'ast> for Calls<'_> {
        fn visit_expr_method_call(&mut self, call: &'ast syn::ExprMethodCall) {
            if self.names.iter().any(|n| call.method == n) {
                self.found.push(call.method.to_string());
            }
            syn::visit::visit_expr_method_call(self, call);
        }
    }
    let mut files = vec![file.to_owned()];
    let mut found = Vec::new();
    while let Some(file) = files.pop() {
        let syntax = syn::parse_file(&std::fs::read_to_string(&file).unwrap()).unwrap();
        let mut calls = Calls {
            names,
            found: Vec::new(),
        };
        calls.visit_file(&syntax);
        found.extend(
            calls
                .found
                .into_iter()
                .map(|m| format!("{}: {m}", file.display())),
        );
        for item in &syntax.items {
            if let syn::Item::Mod(m) = item
                && m.content.is_none()
            {
                files.push(module_file(&file, &m.ident.to_string()));
            }
        }
    }
    found
}

/// Resolvers say what happened to a browser's sign-in; only the HTTP layer writes headers.
#[test]
fn resolvers_never_write_http_headers() {
    let calls = method_calls(
        &root().join("src/graphql/mod.rs"),
        &["append_http_header", "insert_http_header"],
    );
    assert!(calls.is_empty(), "headers written in graphql: {calls:?}");
}

#[test]
fn an_upward_import_is_refused() {
    let layers = Layers::parse(
        "```text layers\napp\nhttp\ngraphql  # the schema\nauth payments\npayments -> auth\nstore\n```",
    );
    assert_eq!(layers.refuses("http", "store"), None);
    assert_eq!(layers.refuses("payments", "auth"), None);
    assert!(layers.refuses("auth", "payments").is_some());
    assert!(layers.refuses("store", "graphql").is_some());
    assert!(layers.refuses("store", "nowhere").is_some());
}

#[test]
fn edges_are_found_in_uses_paths_and_macros() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("lib.rs");
    std::fs::write(
        &file,
        "use crate::{a::X, b};\n\
         fn f() { crate::c::go(); println!(\"{}\", crate::d::NAME); }\n\
         #[cfg(test)] mod tests { use crate::e; }\n\
         // crate::f in a comment is no edge\n\
         use super::g::X;\n\
         mod inner { use super::Local; fn f() { super::super::h::go(); } }\n",
    )
    .unwrap();
    // Read as the root file of a top-level module: `super::` is the crate root.
    let names: Vec<String> = edges_of(&file, 0).into_iter().map(|e| e.to).collect();
    assert_eq!(names, ["a", "b", "c", "d", "g", "h"]);
}
