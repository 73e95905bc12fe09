//! Templates and expressions: results, and the limits every family of runaway input meets.

use std::time::{Duration, Instant};

use serde_json::json;

use super::*;

fn ctx() -> JinjaValue {
    JinjaValue::from(minijinja::value::Serde(json!({
        "input": {"name": "ada", "n": 3, "items": [1, 2, 3], "big": 100_000_000u64, "s": "xy"},
        "nodes": {"a": {"output": {"score": 0.9}}},
    })))
}

fn templates() -> Templates {
    Templates::new(TemplateLimits {
        max_value_bytes: 1024 * 1024,
        max_items: 10_000,
        max_work_bytes: 8 * 1024 * 1024,
        max_output_bytes: 2 * 1024 * 1024,
        ..TemplateLimits::default()
    })
}

#[test]
fn strings_render_and_single_expressions_keep_their_type() {
    let t = templates();
    let out = t
        .inline(|ev| {
            ev.render_value(
                &json!({"greeting": "Hello {{ input.name | title }}", "n": "{{ input.n }}", "list": "{{ input.items }}", "plain": 1}),
                &ctx(),
            )
        })
        .unwrap();
    assert_eq!(out, json!({"greeting": "Hello Ada", "n": 3, "list": [1, 2, 3], "plain": 1}));
    assert!(t.inline(|ev| ev.eval_truthy("nodes.a.output.score > 0.8", &ctx())).unwrap());
    assert!(!t.inline(|ev| ev.eval_truthy("input.n > 5", &ctx())).unwrap());
    // Everyday work stays well inside the inline budget.
    let joined = t.inline(|ev| {
        ev.render_str("{% for i in range(200) %}{{ i }},{% endfor %}{{ 'ab' * 10 }}{{ [1,2] * 3 }}", &ctx())
    });
    assert!(joined.unwrap().ends_with("abababababababababab[1, 2, 1, 2, 1, 2]"));
}

#[test]
fn unknown_variables_and_syntax_errors_fail_without_a_limit() {
    let t = templates();
    for text in ["{{ missing.value }}", "{{ 1 + }}"] {
        let err = t.inline(|ev| ev.render_str(text, &ctx())).unwrap_err();
        assert_eq!(err.limit, None, "{text}: {err}");
    }
}

/// Every family of runaway template meets a limit, named in the error, quickly and without
/// building what it asked for.
#[test]
fn runaway_templates_meet_a_named_limit() {
    use TemplateLimit::*;
    let cases: &[(&str, TemplateLimit)] = &[
        // repetition
        ("{{ 'x' * 100000000 }}", ValueBytes),
        ("{{ 'x' * input.big }}", ValueBytes),
        ("{{ [1] * 100000000 }}", Items),
        ("{{ ['xxxxxxxxxxxxxxxx' * 1000] * 5000 }}", ValueBytes),
        ("{{ (range(10000) | list) * 10000 }}", Items),
        // concatenation growing in a loop
        (
            "{% set ns = namespace(s='x') %}{% for i in range(40) %}{% set ns.s = ns.s ~ ns.s %}{% endfor %}{{ ns.s | length }}",
            ValueBytes,
        ),
        (
            "{% set ns = namespace(s='x') %}{% for i in range(40) %}{% set ns.s = ns.s + ns.s %}{% endfor %}",
            ValueBytes,
        ),
        (
            "{% set ns = namespace(l=[1]) %}{% for i in range(40) %}{% set ns.l = ns.l + ns.l %}{% endfor %}{{ ns.l | length }}",
            Items,
        ),
        (
            "{% set ns = namespace(s='') %}{% for i in range(10000) %}{% set ns.s = ns.s ~ ('x' * 100) %}{% endfor %}",
            WorkBytes,
        ),
        // joins, replacements, padding, batching
        ("{{ range(10000) | join('x' * 1000) }}", ValueBytes),
        ("{{ ('x' * 2000) | replace('', 'y' * 1000) }}", ValueBytes),
        ("{{ 'a\nb' | indent(100000000) }}", ValueBytes),
        ("{{ '%100000000s' | format('x') }}", ValueBytes),
        ("{{ [1] | batch(100000000, 0) | list }}", Items),
        ("{{ [1, 2] | slice(100000000) | list }}", Items),
        // output and captures
        ("{% for i in range(10000) %}{{ 'x' * 1000 }}{% endfor %}", WorkBytes),
        ("{% set big %}{% for i in range(10000) %}{{ 'y' * 1000 }}{% endfor %}{% endset %}", WorkBytes),
        // nesting
        (
            "{% set ns = namespace(v=1) %}{% for i in range(1000) %}{% set ns.v = [ns.v] %}{% endfor %}",
            ValueBytes,
        ),
        // plain busy work
        ("{% set r = range(10000) %}{% for i in r %}{% for j in r %}{% endfor %}{% endfor %}", Fuel),
    ];
    let t = templates();
    let runtime = tokio_runtime();
    for (text, expected) in cases {
        let started = Instant::now();
        let result = runtime.block_on(t.evaluate(|ev| ev.render_str(text, &ctx())));
        let err = match result {
            Ok(text) => panic!("{text:.200}: succeeded"),
            Err(err) => err,
        };
        let (limit, _) = err.limit.unwrap_or_else(|| panic!("{text}: no limit in {err}"));
        assert_eq!(limit, *expected, "{text}: {err}");
        assert!(err.message.contains("WEFT_TEMPLATE_"), "{text}: {err}");
        // A safety bound, not a measurement: unbounded, these ran for minutes or ran out of memory.
        assert!(started.elapsed() < Duration::from_secs(10), "{text} took {:?}", started.elapsed());
    }
}

#[test]
fn results_larger_than_the_output_limit_are_refused_before_they_are_built() {
    let t = templates();
    // Control characters are 1 byte each in a value and 6 in JSON: 500 kB becomes 3 MB.
    let ctx =
        JinjaValue::from(minijinja::value::Serde(json!({"s": "\u{1}".repeat(1000), "y": "y".repeat(1000)})));
    let err = t.inline(|ev| ev.eval_json("[s] * 500", &ctx)).unwrap_err();
    assert_eq!(err.limit.map(|l| l.0), Some(TemplateLimit::OutputBytes), "{err}");
    // The output budget is shared by every template of the node.
    let template = json!({"a": "{{ y * 1000 }}", "b": "{{ y * 1000 }}", "c": "{{ y * 1000 }}"});
    let err = t.inline(|ev| ev.render_value(&template, &ctx)).unwrap_err();
    assert_eq!(err.limit.map(|l| l.0), Some(TemplateLimit::OutputBytes), "{err}");
}

#[test]
fn inline_budget_runs_out_first_and_the_full_budget_takes_over() {
    let t = templates();
    let text = "{% for i in range(100) %}{% for j in range(300) %}{% endfor %}{% endfor %}done";
    // Out of fuel, or of time on a slow machine: either way the inline budget, named.
    let err = t.inline(|ev| ev.render_str(text, &ctx())).unwrap_err();
    match err.limit {
        Some((TemplateLimit::Fuel, Budget::Inline)) => {
            assert!(err.message.contains("WEFT_TEMPLATE_INLINE_FUEL"))
        }
        Some((TemplateLimit::Time, Budget::Inline)) => {
            assert!(err.message.contains("WEFT_TEMPLATE_INLINE_TIMEOUT"))
        }
        other => panic!("{other:?}: {err}"),
    }
    let rendered = tokio_runtime().block_on(t.evaluate(|ev| ev.render_str(text, &ctx())));
    assert_eq!(rendered.unwrap(), "done");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn heavy_evaluations_leave_the_async_workers_free() {
    let t = std::sync::Arc::new(Templates::new(TemplateLimits {
        timeout: Duration::from_secs(2),
        fuel: u64::MAX / 2,
        ..TemplateLimits::default()
    }));
    let heavy = "{% set r = range(100000) %}{% for i in r %}{% for j in r %}{% endfor %}{% endfor %}";
    let (started, mut both_started) = tokio::sync::mpsc::channel(2);
    let tasks: Vec<_> = (0..2)
        .map(|_| {
            let (t, started) = (t.clone(), started.clone());
            tokio::spawn(async move {
                t.evaluate(|ev| {
                    let _ = started.try_send(());
                    ev.render_str(heavy, &ctx())
                })
                .await
            })
        })
        .collect();
    both_started.recv().await.unwrap();
    both_started.recv().await.unwrap();
    // Both runtime workers' evaluations are busy for seconds; other tasks still run at once.
    let light = tokio::spawn(async { 1 }).await.unwrap();
    assert_eq!(light, 1);
    assert!(tasks.iter().all(|task| !task.is_finished()), "a light task waited for the heavy ones");
    for task in tasks {
        let err = task.await.unwrap().unwrap_err();
        assert_eq!(err.limit, Some((TemplateLimit::Time, Budget::Full)), "{err}");
    }
}

/// The nice value of the calling thread (field 19 of `/proc/thread-self/stat`).
#[cfg(target_os = "linux")]
fn nice() -> i64 {
    let stat = std::fs::read_to_string("/proc/thread-self/stat").unwrap();
    // Fields after the command name (which may hold spaces) start at field 3.
    let rest = &stat[stat.rfind(')').unwrap() + 2..];
    rest.split_whitespace().nth(19 - 3).unwrap().parse().unwrap()
}

#[cfg(target_os = "linux")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_full_budget_runs_on_a_thread_of_the_lowest_priority() {
    let t = templates();
    let base = nice();
    let text = "{% for i in range(100) %}{% for j in range(300) %}{% endfor %}{% endfor %}done";
    let seen = std::sync::Mutex::new(Vec::new());
    let rendered = t
        .evaluate(|ev| {
            seen.lock().unwrap().push((std::thread::current().id(), nice()));
            ev.render_str(text, &ctx())
        })
        .await;
    assert_eq!(rendered.unwrap(), "done");
    let seen = seen.into_inner().unwrap();
    // The inline attempt on the caller's thread at its priority, then the full one elsewhere.
    assert_eq!(seen.len(), 2, "{seen:?}");
    assert_eq!(seen[0].1, base);
    assert_eq!(seen[1].1, 19);
    assert_ne!(seen[0].0, seen[1].0);
    // The async workers keep their priority.
    assert_eq!(tokio::spawn(async { nice() }).await.unwrap(), base);
}

fn tokio_runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap()
}
