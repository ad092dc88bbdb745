use serde_json::json;

use super::*;

const MAX: usize = 64 * 1024;

fn vars(v: Value) -> Map<String, Value> {
    v.as_object().cloned().unwrap_or_default()
}

fn ok(template: Value, variables: Value) -> Value {
    render(&template, &vars(variables), MAX).unwrap_or_else(|e| panic!("render failed: {e}"))
}

fn missing(template: Value, variables: Value) -> Vec<String> {
    match render(&template, &vars(variables), MAX) {
        Err(RenderError::MissingVariables(names)) => names,
        other => panic!("expected missing variables, got {other:?}"),
    }
}

#[test]
fn substitutes_inside_strings_at_any_depth() {
    let template = json!({
        "title": "Order {{order_id}} shipped",
        "action": {"url": "/orders/{{order_id}}/tracking", "steps": ["{{a}}-{{b}}", ["deep {{a}}"]]},
    });
    let out = ok(template, json!({"order_id": "ORD-1", "a": "x", "b": "y"}));
    assert_eq!(
        out,
        json!({
            "title": "Order ORD-1 shipped",
            "action": {"url": "/orders/ORD-1/tracking", "steps": ["x-y", ["deep x"]]},
        })
    );
}

#[test]
fn nested_fields_and_array_indexes() {
    let v = json!({"user": {"name": "Ann", "tags": ["a", "b"]}, "items": [{"sku": "S1"}, 7]});
    assert_eq!(ok(json!("Hi {{user.name}}"), v.clone()), json!("Hi Ann"));
    assert_eq!(ok(json!("{{user.tags.1}}"), v.clone()), json!("b"));
    assert_eq!(ok(json!("{{items.0.sku}}/{{items.1}}"), v.clone()), json!("S1/7"));
    assert_eq!(
        missing(json!("{{items.2}} {{user.name.first}} {{items.x}}"), v),
        ["items.2", "user.name.first", "items.x"]
    );
}

#[test]
fn a_whole_string_placeholder_keeps_the_json_type() {
    let v = json!({"n": 3, "f": 1.5, "ok": true, "none": null, "obj": {"k": [1, 2]}, "list": [1, "a"], "s": "text"});
    assert_eq!(
        ok(
            json!({"n": "{{n}}", "f": "{{f}}", "ok": "{{ok}}", "none": "{{none}}", "obj": "{{obj}}", "list": "{{list}}",
                   "s": "{{s}}", "nested": "{{obj.k}}"}),
            v
        ),
        json!({"n": 3, "f": 1.5, "ok": true, "none": null, "obj": {"k": [1, 2]}, "list": [1, "a"], "s": "text",
               "nested": [1, 2]})
    );
    assert_eq!(ok(json!(["{{ n }}"]), json!({"n": 3})), json!([3]), "whitespace inside braces still counts as exact");
}

#[test]
fn inside_longer_strings_values_are_their_json_text() {
    let v = json!({"n": 3, "ok": false, "none": null, "obj": {"k": "v"}, "list": [1, "a"], "s": "plain \"q\""});
    assert_eq!(ok(json!("n={{n}}"), v.clone()), json!("n=3"));
    assert_eq!(ok(json!("{{ok}}/{{none}}"), v.clone()), json!("false/null"));
    assert_eq!(ok(json!("o={{obj}} l={{list}}"), v.clone()), json!(r#"o={"k":"v"} l=[1,"a"]"#));
    assert_eq!(ok(json!("s={{s}}"), v.clone()), json!("s=plain \"q\""), "strings go in without quotes");
    assert_eq!(ok(json!(" {{n}}"), v), json!(" 3"), "surrounding text makes it a string");
}

#[test]
fn every_missing_name_is_listed_once_in_order() {
    let template = json!({"a": "{{zeta}} {{alpha}}", "b": ["{{zeta}}", "{{beta}}"], "c": "{{present}}"});
    assert_eq!(missing(template, json!({"present": 1})), ["zeta", "alpha", "beta"]);
    let err = render(&json!("{{x}}{{y}}"), &Map::new(), MAX).unwrap_err();
    assert_eq!(err.to_string(), "missing template variables: x, y");
}

#[test]
fn null_is_a_value_not_a_missing_variable() {
    assert_eq!(ok(json!("{{v}}"), json!({"v": null})), json!(null));
}

#[test]
fn substitution_is_not_reentrant() {
    let v = json!({"a": "{{b}}", "b": "secret", "obj": {"t": "{{b}}"}});
    assert_eq!(ok(json!("{{a}}"), v.clone()), json!("{{b}}"));
    assert_eq!(ok(json!("x {{a}} y"), v.clone()), json!("x {{b}} y"));
    assert_eq!(ok(json!("{{obj}}"), v.clone()), json!({"t": "{{b}}"}));
    // Two adjacent values must not form a placeholder together either.
    assert_eq!(ok(json!("{{l}}{{r}}"), json!({"l": "{", "r": "{b}}"})), json!("{{b}}"));
}

#[test]
fn keys_and_non_string_values_are_left_alone() {
    let template = json!({"{{k}}": "v", "n": 1, "t": true, "z": null, "arr": [1.5]});
    assert_eq!(ok(template.clone(), json!({"k": "key"})), template);
}

#[test]
fn malformed_braces_are_literal() {
    let none = json!({});
    for literal in
        ["{{", "a {{ b", "{{}}", "{{ }}", "{{a b}}", "{{a..b}}", "{{.a}}", "{{a.}}", "{{a!}}", "}}", "{ {a} }", "{a}"]
    {
        assert_eq!(ok(json!(literal), none.clone()), json!(literal), "{literal:?} is literal text");
    }
    let v = json!({"x": "X"});
    assert_eq!(ok(json!("{{{x}}}"), v.clone()), json!("{X}"));
    assert_eq!(ok(json!("{{x}} and {{ unterminated"), v.clone()), json!("X and {{ unterminated"));
    assert_eq!(ok(json!("{{not valid}} {{x}}"), v.clone()), json!("{{not valid}} X"));
    assert_eq!(ok(json!("{{a {{x}}"), v), json!("{{a X"));
}

#[test]
fn whitespace_inside_braces_is_tolerated() {
    let v = json!({"name": "Ann", "u": {"id": 5}});
    assert_eq!(ok(json!("Hi {{ name }}, {{name\t}} #{{\n u.id }}"), v), json!("Hi Ann, Ann #5"));
}

#[test]
fn names_allow_dashes_underscores_and_digits() {
    let v = json!({"order-id": "o", "first_name": "f", "2fa": "t"});
    assert_eq!(ok(json!("{{order-id}} {{first_name}} {{2fa}}"), v), json!("o f t"));
}

#[test]
fn unicode_text_survives() {
    let v = json!({"who": "Zoë 🚀"});
    assert_eq!(ok(json!("héllo {{who}} — ✓"), v), json!("héllo Zoë 🚀 — ✓"));
}

#[test]
fn rendering_stops_past_the_budget() {
    // 1000 placeholders × a 1 KiB value would be 1 MB; the budget stops it long before.
    let template = Value::Array(vec![json!("{{big}}"); 1000]);
    let err = render(&template, &vars(json!({"big": "x".repeat(1024)})), 4096).unwrap_err();
    assert_eq!(err, RenderError::Invalid(ValidationError::RenderedPayloadTooLarge { max: 4096 }));
    let err = render(&json!("{{big}} tail"), &vars(json!({"big": "x".repeat(100)})), 50).unwrap_err();
    assert!(matches!(err, RenderError::Invalid(ValidationError::RenderedPayloadTooLarge { .. })));
    // Within the budget the same template renders.
    assert!(render(&json!(["{{big}}", "{{big}}"]), &vars(json!({"big": "x".repeat(100)})), 4096).is_ok());
}

#[test]
fn a_template_without_placeholders_is_returned_unchanged() {
    let template = json!({"a": [1, {"b": "plain text"}], "c": 2.25});
    assert_eq!(ok(template.clone(), json!({"unused": 1})), template);
}

#[test]
fn placeholders_lists_names_once_in_order() {
    let template = json!({"a": "{{x}} {{ y.z }}", "b": ["{{x}}", "{{w}}", "{{bad name}}"], "{{k}}": 1});
    assert_eq!(placeholders(&template), ["x", "y.z", "w"]);
    assert!(placeholders(&json!({"a": 1})).is_empty());
}
