//! Renders the chart's templates without `helm`, which cannot be had here, with a subset of Go
//! templates large enough for `deploy/helm/ara` and small enough to trust:
//!
//! - actions `{{ pipeline }}` with `{{-`/`-}}` trimming and `{{/* comments */}}`;
//! - `if`/`else`/`end`, `with`/`end` (sets the dot), `range` over maps (sorted keys, as Go does)
//!   and lists, with `$key, $value :=` or `$value :=` or no variables;
//! - `define` in any template and `include "name" dot`;
//! - terms `.`, `.A.b`, `$`, `$.A.b`, `$var`, `$var.a`, strings, integers, `true`/`false`;
//! - functions `include`, `toYaml`, `nindent`, `indent`, `quote`, `default`, `not`, and pipelines.
//!
//! Anything else (`printf`, `and`, parentheses, `else if`, `tpl`…) panics, so a template that
//! starts using it fails this test until the renderer learns it, instead of rendering wrongly.
//! Missing values are empty, as in Helm. Maps render with sorted keys (Helm's `toYaml` does too).

use std::collections::BTreeMap;
use std::path::Path;

use serde_json::{Map, Value};

#[derive(Debug, Clone)]
enum Node {
    Text(String),
    Output(String),
    If(String, Vec<Node>, Vec<Node>),
    With(String, Vec<Node>, Vec<Node>),
    Range { key: Option<String>, value: Option<String>, pipeline: String, body: Vec<Node> },
}

#[derive(Debug)]
enum Token {
    Text(String),
    Action(String),
}

/// Splits a template into text and actions, applying the trim markers.
fn tokenize(src: &str) -> Vec<Token> {
    let mut tokens = Vec::new();
    let mut rest = src;
    let mut trim_next = false;
    while let Some(start) = rest.find("{{") {
        let mut text = rest[..start].to_owned();
        if trim_next {
            text = text.trim_start().to_owned();
        }
        let after = &rest[start + 2..];
        let end = after.find("}}").unwrap_or_else(|| panic!("unclosed action in: {after}"));
        let mut action = &after[..end];
        if let Some(a) = action.strip_prefix('-') {
            text = text.trim_end().to_owned();
            action = a;
        }
        trim_next = false;
        if let Some(a) = action.strip_suffix('-') {
            trim_next = true;
            action = a;
        }
        tokens.push(Token::Text(text));
        let action = action.trim();
        if !(action.starts_with("/*") && action.ends_with("*/")) {
            tokens.push(Token::Action(action.to_owned()));
        }
        rest = &after[end + 2..];
    }
    tokens.push(Token::Text(if trim_next { rest.trim_start().to_owned() } else { rest.to_owned() }));
    tokens
}

/// Parses tokens into nodes until `end`/`else` at this level; `define`s go to `defines`.
fn parse(
    tokens: &mut std::iter::Peekable<std::vec::IntoIter<Token>>,
    defines: &mut BTreeMap<String, Vec<Node>>,
) -> (Vec<Node>, Option<String>) {
    let mut nodes = Vec::new();
    while let Some(token) = tokens.next() {
        let action = match token {
            Token::Text(t) => {
                nodes.push(Node::Text(t));
                continue;
            }
            Token::Action(a) => a,
        };
        let (word, rest) = action.split_once(char::is_whitespace).map_or((action.as_str(), ""), |(w, r)| (w, r.trim()));
        match word {
            "end" | "else" => {
                assert!(rest.is_empty(), "unsupported: {{{{ {action} }}}}");
                return (nodes, Some(word.to_owned()));
            }
            "if" | "with" => {
                let (body, stop) = parse(tokens, defines);
                let otherwise = if stop.as_deref() == Some("else") {
                    let (otherwise, stop) = parse(tokens, defines);
                    assert_eq!(stop.as_deref(), Some("end"), "{word} without end");
                    otherwise
                } else {
                    assert_eq!(stop.as_deref(), Some("end"), "{word} without end");
                    Vec::new()
                };
                let pipeline = rest.to_owned();
                nodes.push(if word == "if" {
                    Node::If(pipeline, body, otherwise)
                } else {
                    Node::With(pipeline, body, otherwise)
                });
            }
            "range" => {
                let (vars, pipeline) = match rest.split_once(":=") {
                    Some((vars, pipeline)) => (vars.trim(), pipeline.trim()),
                    None => ("", rest),
                };
                let names: Vec<String> =
                    vars.split(',').map(str::trim).filter(|v| !v.is_empty()).map(str::to_owned).collect();
                let (key, value) = match names.as_slice() {
                    [] => (None, None),
                    [v] => (None, Some(v.clone())),
                    [k, v] => (Some(k.clone()), Some(v.clone())),
                    _ => panic!("unsupported range: {action}"),
                };
                let (body, stop) = parse(tokens, defines);
                assert_eq!(stop.as_deref(), Some("end"), "range without end (range/else is not supported)");
                nodes.push(Node::Range { key, value, pipeline: pipeline.to_owned(), body });
            }
            "define" => {
                let name = unquote(rest).unwrap_or_else(|| panic!("define needs a quoted name: {action}"));
                let (body, stop) = parse(tokens, defines);
                assert_eq!(stop.as_deref(), Some("end"), "define without end");
                defines.insert(name, body);
            }
            "template" | "block" | "break" | "continue" => panic!("unsupported: {{{{ {action} }}}}"),
            _ => nodes.push(Node::Output(action.clone())),
        }
    }
    (nodes, None)
}

fn unquote(s: &str) -> Option<String> {
    let s = s.trim();
    let inner = s.strip_prefix('"')?.strip_suffix('"')?;
    Some(inner.replace("\\\"", "\"").replace("\\n", "\n").replace("\\\\", "\\"))
}

/// Splits on `sep` outside double quotes.
fn split_outside_quotes(s: &str, sep: char) -> Vec<String> {
    let mut parts = vec![String::new()];
    let mut quoted = false;
    let mut escaped = false;
    for c in s.chars() {
        match c {
            _ if escaped => escaped = false,
            '\\' if quoted => escaped = true,
            '"' => quoted = !quoted,
            '(' | ')' if !quoted => panic!("parentheses are not supported: {s}"),
            c if c == sep && !quoted => {
                parts.push(String::new());
                continue;
            }
            _ => {}
        }
        parts.last_mut().expect("one part at least").push(c);
    }
    parts.into_iter().map(|p| p.trim().to_owned()).filter(|p| !p.is_empty()).collect()
}

struct Scope<'a> {
    root: &'a Value,
    dot: Value,
    vars: Vec<(String, Value)>,
}

struct Renderer {
    defines: BTreeMap<String, Vec<Node>>,
}

fn truthy(v: &Value) -> bool {
    match v {
        Value::Null => false,
        Value::Bool(b) => *b,
        Value::Number(n) => n.as_f64() != Some(0.0),
        Value::String(s) => !s.is_empty(),
        Value::Array(a) => !a.is_empty(),
        Value::Object(o) => !o.is_empty(),
    }
}

fn lookup(mut value: Value, path: &str) -> Value {
    for field in path.split('.').filter(|f| !f.is_empty()) {
        value = value.get(field).cloned().unwrap_or(Value::Null);
    }
    value
}

fn to_text(v: &Value) -> String {
    match v {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        other => panic!("printing a map or list needs toYaml: {other}"),
    }
}

fn to_yaml(v: &Value) -> String {
    if v.is_null() {
        return String::new();
    }
    serde_norway::to_string(v).expect("YAML").trim_end().to_owned()
}

fn indent(n: usize, s: &str) -> String {
    let pad = " ".repeat(n);
    s.lines().map(|l| if l.is_empty() { String::new() } else { format!("{pad}{l}") }).collect::<Vec<_>>().join("\n")
}

impl Renderer {
    fn term(&self, term: &str, scope: &Scope) -> Value {
        if let Some(s) = unquote(term) {
            return Value::String(s);
        }
        if let Ok(n) = term.parse::<i64>() {
            return Value::from(n);
        }
        match term {
            "true" => return Value::Bool(true),
            "false" => return Value::Bool(false),
            "." => return scope.dot.clone(),
            _ => {}
        }
        if let Some(path) = term.strip_prefix('.') {
            return lookup(scope.dot.clone(), path);
        }
        if let Some(var) = term.strip_prefix('$') {
            let (name, path) = var.split_once('.').unwrap_or((var, ""));
            let base = if name.is_empty() {
                scope.root.clone()
            } else {
                let full = format!("${name}");
                scope
                    .vars
                    .iter()
                    .rev()
                    .find(|(n, _)| *n == full)
                    .map(|(_, v)| v.clone())
                    .unwrap_or_else(|| panic!("undefined variable ${name}"))
            };
            return lookup(base, path);
        }
        panic!("unsupported term: {term}")
    }

    fn call(&self, name: &str, args: &[Value]) -> Value {
        let arg = |i: usize| args.get(i).cloned().unwrap_or_else(|| panic!("{name}: missing argument {i}"));
        let number = |v: &Value| v.as_u64().unwrap_or_else(|| panic!("{name}: not a number: {v}")) as usize;
        match name {
            "toYaml" => Value::String(to_yaml(&arg(0))),
            "nindent" => Value::String(format!("\n{}", indent(number(&arg(0)), &to_text(&arg(1))))),
            "indent" => Value::String(indent(number(&arg(0)), &to_text(&arg(1)))),
            "quote" => Value::String(serde_json::to_string(&to_text(&arg(0))).expect("a string quotes")),
            "default" => {
                let given = args.get(1).cloned().unwrap_or(Value::Null);
                if truthy(&given) {
                    given
                } else {
                    arg(0)
                }
            }
            "not" => Value::Bool(!truthy(&arg(0))),
            _ => panic!("unsupported function: {name}"),
        }
    }

    fn pipeline(&self, pipeline: &str, scope: &Scope) -> Value {
        let mut result: Option<Value> = None;
        for command in split_outside_quotes(pipeline, '|') {
            let words = split_outside_quotes(&command, ' ');
            let (head, rest) = words.split_first().unwrap_or_else(|| panic!("empty command in {pipeline}"));
            let is_function = head.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
                && !matches!(head.as_str(), "true" | "false");
            let value = if head == "include" {
                let name = unquote(&rest[0]).unwrap_or_else(|| panic!("include needs a quoted name: {command}"));
                let dot = rest.get(1).map(|t| self.term(t, scope)).or_else(|| result.clone()).unwrap_or(Value::Null);
                Value::String(self.include(&name, scope.root, dot))
            } else if is_function {
                let mut args: Vec<Value> = rest.iter().map(|t| self.term(t, scope)).collect();
                if let Some(previous) = result.take() {
                    args.push(previous);
                }
                self.call(head, &args)
            } else {
                assert!(rest.is_empty() && result.is_none(), "unsupported command: {command}");
                self.term(head, scope)
            };
            result = Some(value);
        }
        result.unwrap_or(Value::Null)
    }

    fn include(&self, name: &str, root: &Value, dot: Value) -> String {
        let body = self.defines.get(name).unwrap_or_else(|| panic!("no template named {name}"));
        let mut scope = Scope { root, dot, vars: Vec::new() };
        self.nodes(body, &mut scope)
    }

    fn nodes(&self, nodes: &[Node], scope: &mut Scope) -> String {
        let mut out = String::new();
        for node in nodes {
            match node {
                Node::Text(t) => out.push_str(t),
                Node::Output(p) => out.push_str(&to_text(&self.pipeline(p, scope))),
                Node::If(p, then, otherwise) => {
                    let branch = if truthy(&self.pipeline(p, scope)) { then } else { otherwise };
                    out.push_str(&self.nodes(branch, scope));
                }
                Node::With(p, body, otherwise) => {
                    let value = self.pipeline(p, scope);
                    if truthy(&value) {
                        let saved = std::mem::replace(&mut scope.dot, value);
                        out.push_str(&self.nodes(body, scope));
                        scope.dot = saved;
                    } else {
                        out.push_str(&self.nodes(otherwise, scope));
                    }
                }
                Node::Range { key, value, pipeline, body } => {
                    let items: Vec<(Value, Value)> = match self.pipeline(pipeline, scope) {
                        Value::Object(map) => map.into_iter().map(|(k, v)| (Value::String(k), v)).collect(),
                        Value::Array(list) => list.into_iter().enumerate().map(|(i, v)| (Value::from(i), v)).collect(),
                        Value::Null => Vec::new(),
                        other => panic!("range over {other}"),
                    };
                    for (k, v) in items {
                        let depth = scope.vars.len();
                        if let Some(name) = key {
                            scope.vars.push((name.clone(), k));
                        }
                        if let Some(name) = value {
                            scope.vars.push((name.clone(), v.clone()));
                        }
                        let saved = std::mem::replace(&mut scope.dot, v);
                        out.push_str(&self.nodes(body, scope));
                        scope.dot = saved;
                        scope.vars.truncate(depth);
                    }
                }
            }
        }
        out
    }
}

/// Deep-merges `over` into `base`, as `helm --values` does.
pub fn merge(base: &mut Value, over: Value) {
    match (base, over) {
        (Value::Object(b), Value::Object(o)) => {
            for (k, v) in o {
                merge(b.entry(k).or_insert(Value::Null), v);
            }
        }
        (b, o) => *b = o,
    }
}

/// The chart's values with `overrides` (YAML) merged in.
pub fn values(chart: &Path, overrides: &str) -> Value {
    let text = std::fs::read_to_string(chart.join("values.yaml")).expect("values.yaml");
    let mut values: Value = serde_norway::from_str(&text).expect("values.yaml parses");
    if !overrides.trim().is_empty() {
        merge(&mut values, serde_norway::from_str(overrides).expect("overrides parse"));
    }
    values
}

/// Every manifest template (not `_*.tpl`, not NOTES.txt) rendered for release `release`.
pub fn render(chart: &Path, release: &str, overrides: &str) -> Vec<(String, String)> {
    let meta: Value = serde_norway::from_str(&std::fs::read_to_string(chart.join("Chart.yaml")).expect("Chart.yaml"))
        .expect("Chart.yaml parses");
    let mut chart_obj = Map::new();
    for (field, key) in [("Name", "name"), ("Version", "version"), ("AppVersion", "appVersion")] {
        chart_obj.insert(field.into(), meta.get(key).cloned().unwrap_or(Value::Null));
    }
    let root = serde_json::json!({
        "Values": values(chart, overrides),
        "Release": {"Name": release, "Namespace": "default", "Service": "Helm"},
        "Chart": Value::Object(chart_obj),
    });
    let mut files: Vec<_> = std::fs::read_dir(chart.join("templates"))
        .expect("templates/")
        .filter_map(Result::ok)
        .map(|e| e.path())
        .collect();
    files.sort();
    let mut defines = BTreeMap::new();
    let mut bodies = Vec::new();
    for path in &files {
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or_default().to_owned();
        let src = std::fs::read_to_string(path).expect("template");
        let mut tokens = tokenize(&src).into_iter().peekable();
        let (nodes, stop) = parse(&mut tokens, &mut defines);
        assert!(stop.is_none(), "{name}: unbalanced {{{{ {} }}}}", stop.unwrap_or_default());
        if !(name.starts_with('_') || name == "NOTES.txt") {
            bodies.push((name, nodes));
        }
    }
    let renderer = Renderer { defines };
    bodies
        .into_iter()
        .map(|(name, nodes)| {
            let mut scope = Scope { root: &root, dot: root.clone(), vars: Vec::new() };
            let text = renderer.nodes(&nodes, &mut scope);
            (name, text)
        })
        .collect()
}

#[test]
fn the_renderer_follows_go_template_rules() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("templates")).unwrap();
    std::fs::write(dir.path().join("Chart.yaml"), "name: c\nversion: 1.2.3\nappVersion: \"9\"\n").unwrap();
    std::fs::write(
        dir.path().join("values.yaml"),
        "a: {b: 1}\nm: {z: 1, y: \"two\"}\nl: [x, y]\nempty: {}\non: false\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("templates/_h.tpl"),
        "{{- define \"n\" -}}\n{{ .Release.Name }}-{{ .Chart.Name }}\n{{- end }}",
    )
    .unwrap();
    let t = "x: {{ .Values.a.b }}\n{{- if .Values.on }}\nno\n{{- else }}\nyes: {{ include \"n\" . | quote }}\n{{- end }}\n{{- range $k, $v := .Values.m }}\n{{ $k }}={{ $v | quote }} {{ $.Values.a.b }}\n{{- end }}\n{{- with .Values.empty }}\nnever\n{{- end }}\n{{- with .Values.a }}\nb: {{ .b }}\n{{- end }}\nm:\n  {{- toYaml .Values.m | nindent 2 }}\nd: {{ .Values.missing | default \"dflt\" }} {{ not .Values.on }}\n{{- range .Values.l }}\n- {{ . }}\n{{- end }}\n";
    std::fs::write(dir.path().join("templates/t.yaml"), t).unwrap();
    let out = render(dir.path(), "rel", "");
    assert_eq!(
        out[0].1,
        "x: 1\nyes: \"rel-c\"\ny=\"two\" 1\nz=\"1\" 1\nb: 1\nm:\n  y: two\n  z: 1\nd: dflt true\n- x\n- y\n"
    );
}
