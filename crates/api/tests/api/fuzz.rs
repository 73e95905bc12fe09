//! Every procedure of the registry fed generated params: right and wrong types, adversarial
//! strings, extreme numbers, deep nesting, unknown fields, nulls, and ids of resources that
//! exist. No answer may be an internal error (-32603), and every answer must be a
//! well-formed JSON-RPC response. The procedures come from the OpenRPC document built from
//! the registry, so a new procedure is fuzzed without a line here.
//!
//! Cases are generated from fixed seeds (one per procedure name), so a run is repeatable;
//! failures are all collected, with the params, the answer and the logged cause.

mod causes;
mod fixtures;
mod pools;
mod values;

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use serde::Deserialize as _;
use serde_json::{Map, Value};

use crate::helpers::*;
use fixtures::{Actor, Fixture, IdPool};
use values::ParamsGen;

/// Cases per procedure as an ADMIN: a few for a procedure without params, more for each
/// param it has, up to a ceiling.
fn admin_cases(n_fields: usize) -> usize {
    (20 + 30 * n_fields).min(150)
}
/// Cases per procedure as an ordinary USER, and without credentials.
const USER_CASES: usize = 20;
const ANONYMOUS_CASES: usize = 4;

/// Test config with throttles out of the way (the fuzzer logs in and registers from one
/// address thousands of times; throttles have their own tests) and short execute waits.
fn fuzz_config() -> weft_api::ApiConfig {
    let mut config = test_config();
    config.login_throttle.max_failures_per_account = u64::MAX;
    config.login_throttle.max_failures_per_ip = u64::MAX;
    config.registrations_per_ip_per_hour = u64::MAX;
    config.max_execute_wait = Duration::from_millis(200);
    config
}

/// One procedure as the OpenRPC document states it.
struct Surface {
    name: String,
    public: bool,
    /// `(name, required, schema)` of each param.
    fields: Vec<(String, bool, Value)>,
}

/// Every procedure, and the schemas their params refer to.
fn surface() -> (Vec<Surface>, Map<String, Value>) {
    let document = weft_api::codegen::openrpc_document(&weft_api::routers::registry());
    let procedures = document["methods"]
        .as_array()
        .unwrap()
        .iter()
        .map(|method| Surface {
            name: method["name"].as_str().unwrap().to_owned(),
            public: method["x-weft-access"]["authenticated"] == false,
            fields: method["params"]
                .as_array()
                .unwrap()
                .iter()
                .map(|p| (p["name"].as_str().unwrap().to_owned(), p["required"] == true, p["schema"].clone()))
                .collect(),
        })
        .collect();
    let components = document["components"]["schemas"].as_object().unwrap().clone();
    (procedures, components)
}

/// A seed per procedure name (FNV-1a), so that adding a procedure leaves the others' cases
/// as they were. `WEFT_FUZZ_SEED=<n>` explores other cases; the default is fixed.
fn seed(name: &str) -> u64 {
    let salt = std::env::var("WEFT_FUZZ_SEED").ok().and_then(|s| s.parse::<u64>().ok()).unwrap_or(0);
    let hash = name
        .bytes()
        .fold(0xcbf2_9ce4_8422_2325, |hash, byte| (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3));
    hash ^ salt.wrapping_mul(0x9e37_79b9_7f4a_7c15)
}

#[derive(Clone, Copy, Debug)]
enum Who {
    Admin,
    User,
    Anonymous,
}

struct Fuzz<'a> {
    app: &'a TestApp,
    admin: Actor,
    user: Actor,
    failures: Vec<String>,
    /// Answers by error code (0: a result).
    n_answers: BTreeMap<i64, usize>,
    /// Procedures whose answers were nested past serde_json's default depth.
    too_deep: BTreeSet<String>,
}

impl Fuzz<'_> {
    fn actor(&mut self, who: Who) -> Option<&mut Actor> {
        match who {
            Who::Admin => Some(&mut self.admin),
            Who::User => Some(&mut self.user),
            Who::Anonymous => None,
        }
    }

    /// Sends one call with id `id`; when it answers UNAUTHENTICATED or FORBIDDEN because an
    /// earlier fuzzed call ended the actor's session or changed its role (logout, revocation,
    /// new password, `auth.setRole`), puts the account back, logs in again and sends it once
    /// more.
    async fn send(&mut self, who: Who, method: &str, id: usize, params: Option<&Value>, body: &str) {
        let app = self.app;
        let token = self.actor(who).map(|a| a.token().to_owned());
        let (mut status, _, mut text) = app.post_raw_as(body, token.as_deref()).await;
        if let Some(actor) = self.actor(who)
            && matches!(error_code(&text), Some(-32001 | -32003))
            && actor.ensure_session(app).await
        {
            (status, _, text) = app.post_raw_as(body, Some(actor.token())).await;
        }
        *self.n_answers.entry(error_code(&text).unwrap_or(0)).or_default() += 1;
        // A password the fuzzer changed is the one to log in with from now on.
        if let Some(actor) = self.actor(who)
            && let Some(password) = params.and_then(|p| p.get("newPassword")).and_then(Value::as_str)
            && error_code(&text).is_none()
            && status == 200
        {
            actor.password = password.to_owned();
        }
        if too_deep(&text) {
            self.too_deep.insert(method.to_owned());
        }
        if let Some(problem) = problem(status, &text, id) {
            let cause = correlation_id(&text).and_then(|id| causes::cause(&id)).unwrap_or_default();
            self.failures.push(format!(
                "{method} as {who:?}: {problem}\n  params: {}\n  answer: {}\n  cause: {cause}",
                truncate(params.map_or("(none)".to_owned(), Value::to_string)),
                truncate(text),
            ));
        }
    }
}

both!(no_procedure_answers_an_internal_error, config = fuzz_config(), |app| {
    fuzz_every_procedure(&app).await;
});

async fn fuzz_every_procedure(app: &TestApp) {
    causes::install();
    let started = Instant::now();
    let (procedures, components) = surface();
    let user_email = email("fuzz-user");
    let session = app.register(&user_email).await;
    let role = serde_json::from_value(session.user["role"].clone()).unwrap();
    let user = Actor { email: user_email, password: PASSWORD.to_owned(), role, session };
    let admin_email = email("fuzz-admin");
    let session = app.admin(&admin_email).await;
    let admin =
        Actor { email: admin_email, password: PASSWORD.to_owned(), role: weft_core::Role::Admin, session };
    let mut admin_fixture = Fixture::build(app, &admin, Some(&user), &email("invitee")).await;
    let mut user_fixture = Fixture::build(app, &user, None, &admin.email).await;
    let mut fuzz = Fuzz {
        app,
        admin,
        user,
        failures: Vec::new(),
        n_answers: BTreeMap::new(),
        too_deep: BTreeSet::new(),
    };

    for procedure in &procedures {
        let pool = IdPool::collect(app, &[&fuzz.admin, &fuzz.user], &[&admin_fixture, &user_fixture]).await;
        let examples: Vec<(&str, Value)> = admin_fixture
            .examples
            .iter()
            .chain(&user_fixture.examples)
            .map(|(k, v)| (*k, v.clone()))
            .collect();
        let mut generator = ParamsGen::new(seed(&procedure.name), &components, &pool, &examples);
        let n_admin = admin_cases(procedure.fields.len());
        let whos = [(Who::Admin, n_admin), (Who::User, USER_CASES), (Who::Anonymous, ANONYMOUS_CASES)];
        let mut id = 0;
        for (who, n_cases) in whos {
            for _ in 0..n_cases {
                id += 1;
                let (params, body) = generator.body(&procedure.name, id, &procedure.fields);
                fuzz.send(who, &procedure.name, id, params.as_ref(), &body).await;
            }
        }
        for body in raw_cases(procedure) {
            let who = if procedure.public { Who::Anonymous } else { Who::Admin };
            fuzz.send(who, &procedure.name, RAW_ID, None, &body).await;
        }
        // Put back what the calls may have taken away, for the next procedure.
        fuzz.admin.ensure_session(app).await;
        fuzz.user.ensure_session(app).await;
        if !admin_fixture.intact(app, &fuzz.admin, Some(&fuzz.user)).await {
            admin_fixture = Fixture::build(app, &fuzz.admin, Some(&fuzz.user), &email("invitee")).await;
        }
        if !user_fixture.intact(app, &fuzz.user, None).await {
            user_fixture = Fixture::build(app, &fuzz.user, None, &fuzz.admin.email).await;
        }
    }
    let n_calls: usize = fuzz.n_answers.values().sum();
    eprintln!(
        "fuzzed {} procedures with {n_calls} calls in {:.1?}; answers by code (0: result): {:?}",
        procedures.len(),
        started.elapsed(),
        fuzz.n_answers
    );
    let uncorrelated = causes::uncorrelated_errors();
    if !uncorrelated.is_empty() {
        eprintln!("errors logged without a correlation id (this test's or another's): {uncorrelated:#?}");
    }
    if !fuzz.too_deep.is_empty() {
        eprintln!("answers nested past serde_json's default depth (128) from: {:?}", fuzz.too_deep);
    }
    assert!(
        fuzz.failures.is_empty(),
        "{} of {n_calls} calls failed:\n\n{}",
        fuzz.failures.len(),
        fuzz.failures.join("\n\n")
    );
}

/// The id of the raw cases' calls.
const RAW_ID: usize = 7;

/// Bodies no generated value spells: nesting far past the parser's limit, a lone surrogate,
/// a duplicated field, a number beyond `f64`.
fn raw_cases(procedure: &Surface) -> Vec<String> {
    let method = &procedure.name;
    let field = procedure.fields.first().map_or("x", |(name, _, _)| name.as_str());
    let head = format!(r#"{{"jsonrpc":"2.0","id":{RAW_ID},"method":"{method}","params":"#);
    let deep = format!("{}{}", "[".repeat(30_000), "]".repeat(30_000));
    vec![
        format!(r#"{head}{{"{field}":{deep}}}}}"#),
        format!(r#"{head}{{"{field}":"\ud800"}}}}"#),
        format!(r#"{head}{{"{field}":"a","{field}":"b"}}}}"#),
        format!(r#"{head}{{"{field}":1e400}}}}"#),
    ]
}

/// The parts of an answer the check reads. `result` is skipped without building it:
/// serde_json skips iteratively, so an answer nested past its recursion limit (128) still
/// reads (see `too_deep`).
#[derive(serde::Deserialize)]
struct Answer {
    jsonrpc: String,
    id: Value,
    #[serde(default, deserialize_with = "present")]
    result: bool,
    error: Option<ErrorObject>,
}

#[derive(serde::Deserialize)]
struct ErrorObject {
    code: i64,
    #[serde(rename = "message")]
    _message: String,
    #[serde(rename = "data")]
    _data: ErrorData,
}

/// Every error's `data` is tagged by `kind`.
#[derive(serde::Deserialize)]
struct ErrorData {
    #[serde(rename = "kind")]
    _kind: String,
}

fn present<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<bool, D::Error> {
    serde::de::IgnoredAny::deserialize(deserializer)?;
    Ok(true)
}

/// What is wrong with an answer to the call with id `id`, if anything: not JSON-RPC, or an
/// internal error.
fn problem(status: u16, text: &str, id: usize) -> Option<String> {
    let answer: Answer = match serde_json::from_str(text) {
        Ok(answer) => answer,
        Err(err) => return Some(format!("HTTP {status}, not a JSON-RPC response: {err}")),
    };
    // Only an answer to a body that could not be read as a request has a null id.
    let unread = answer.error.as_ref().is_some_and(|e| [-32700, -32600].contains(&e.code));
    if answer.jsonrpc != "2.0" || !(answer.id == id || (unread && answer.id.is_null())) {
        return Some(format!("HTTP {status}, jsonrpc or id wrong"));
    }
    match (answer.result, answer.error) {
        (true, None) if status == 200 => None,
        (false, Some(error)) => match (status, error.code) {
            (_, -32603) => Some("internal error (-32603)".to_owned()),
            (200, _) => None,
            (_, code) => Some(format!("HTTP {status} with code {code}")),
        },
        _ => Some(format!("HTTP {status}, not exactly one of result and error")),
    }
}

/// Whether a well-formed answer is nested deeper than serde_json reads into a `Value` by
/// default (a run input accepted at depth 127 comes back inside `result.run.input`).
fn too_deep(text: &str) -> bool {
    serde_json::from_str::<Value>(text).is_err_and(|err| err.to_string().contains("recursion limit"))
}

fn error_code(text: &str) -> Option<i64> {
    serde_json::from_str::<Value>(text).ok()?["error"]["code"].as_i64()
}

fn correlation_id(text: &str) -> Option<String> {
    Some(serde_json::from_str::<Value>(text).ok()?["error"]["data"]["correlationId"].as_str()?.to_owned())
}

fn truncate(text: String) -> String {
    const MAX: usize = 400;
    if text.len() <= MAX {
        return text;
    }
    let mut cut = MAX;
    while !text.is_char_boundary(cut) {
        cut -= 1;
    }
    format!("{}… ({} bytes)", &text[..cut], text.len())
}
