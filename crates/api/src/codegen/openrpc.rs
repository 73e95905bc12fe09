//! The OpenRPC 1.3 document describing every procedure.

use schemars::generate::SchemaSettings;
use serde_json::{Value, json};

use crate::rpc::{Access, Registry};

fn access_value(access: Access) -> Value {
    match access {
        Access::Public => json!({ "authenticated": false }),
        Access::Role(role) => json!({ "authenticated": true, "role": role }),
    }
}

/// Builds the document from the registry. Params are by name: each field of a
/// procedure's params object is one OpenRPC param.
pub fn openrpc_document(registry: &Registry) -> Value {
    let mut settings = SchemaSettings::draft07();
    settings.definitions_path = "#/components/schemas/".into();
    let mut generator = settings.into_generator();
    let mut methods = Vec::new();
    for info in registry.procedures() {
        let params_ref = (info.params.schema)(&mut generator);
        let result_schema = (info.output.schema)(&mut generator);
        let params_name = (info.params.ts_name)();
        let definitions = generator.definitions();
        let params_def = definitions.get(&params_name).cloned().unwrap_or_else(|| params_ref.to_value());
        let required: Vec<String> = params_def
            .get("required")
            .and_then(Value::as_array)
            .map(|r| r.iter().filter_map(|v| v.as_str().map(str::to_owned)).collect())
            .unwrap_or_default();
        let params: Vec<Value> = params_def
            .get("properties")
            .and_then(Value::as_object)
            .map(|props| {
                props
                    .iter()
                    .map(|(name, schema)| {
                        let mut param = json!({
                            "name": name,
                            "required": required.contains(name),
                            "schema": schema,
                        });
                        // The meta-schema wants a string or nothing.
                        if let Some(description) = schema.get("description") {
                            param["description"] = description.clone();
                        }
                        param
                    })
                    .collect()
            })
            .unwrap_or_default();
        methods.push(json!({
            "name": info.name,
            "description": info.doc,
            "paramStructure": "by-name",
            "params": params,
            "result": { "name": (info.output.ts_name)(), "schema": result_schema.to_value() },
            "x-weft-access": access_value(info.access),
            "x-weft-kind": info.kind.as_str(),
        }));
    }
    // What `GET /events` streams: not a procedure's type, documented here all the same (the
    // playground lists the event names from it).
    generator.subschema_for::<weft_events::WeftEvent>();
    let schemas: serde_json::Map<String, Value> = generator.take_definitions(true).into_iter().collect();
    let mut document = json!({
        "openrpc": "1.3.2",
        "info": {
            "title": "Weft",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "JSON-RPC 2.0 API of the Weft workflow server. Procedures are named router.procedure and take one named-params object.",
        },
        // The meta-schema wants an absolute URL: the default listen address (`WEFT_ADDR`).
        "servers": [{
            "name": "weft",
            "url": "http://127.0.0.1:8080/rpc",
            "description": "The default address of `weft serve`; a deployed server answers at <its origin>/rpc.",
        }],
        "methods": methods,
        "components": { "schemas": schemas },
    });
    plain_descriptions(&mut document);
    document
}

/// Descriptions come from Rust doc comments: their intra-doc links become plain text.
fn plain_descriptions(value: &mut Value) {
    match value {
        Value::Object(map) => {
            for (key, item) in map.iter_mut() {
                match item {
                    Value::String(text) if key == "description" => *text = super::ts_docs(text),
                    _ => plain_descriptions(item),
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(plain_descriptions),
        _ => {}
    }
}
