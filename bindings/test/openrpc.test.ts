/**
 * The OpenRPC document (`bindings/openrpc.json`, also served by `rpc.discover`) validates
 * against the official OpenRPC meta-schema (`@open-rpc/meta-schema`), with formats checked.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";

import { Ajv } from "ajv";
import addFormatsModule from "ajv-formats";
import metaSchemaModule from "@open-rpc/meta-schema";
import jsonSchemaModule from "@json-schema-tools/meta-schema";

// Both packages are CommonJS: their default export arrives as the module object.
type AddFormats = (ajv: Ajv) => Ajv;
const addFormats: AddFormats =
  (addFormatsModule as unknown as { default?: AddFormats }).default ?? (addFormatsModule as unknown as AddFormats);
const metaSchema =
  (metaSchemaModule as unknown as { openrpcDocument?: object; default?: { openrpcDocument: object } }).openrpcDocument ??
  (metaSchemaModule as unknown as { default: { openrpcDocument: object } }).default.openrpcDocument;

// What the OpenRPC meta-schema refers to for every schema in the document.
const jsonSchema =
  (jsonSchemaModule as unknown as { default?: Record<string, unknown> }).default ??
  (jsonSchemaModule as unknown as Record<string, unknown>);

function document(): Record<string, unknown> {
  // dist/test/openrpc.test.js → bindings/openrpc.json
  const path = fileURLToPath(new URL("../../openrpc.json", import.meta.url));
  return JSON.parse(readFileSync(path, "utf8")) as Record<string, unknown>;
}

test("the OpenRPC document validates against the OpenRPC meta-schema", () => {
  // The meta-schema names its own dialect URL; its rules are draft-07's.
  const { $schema: _dialect, ...schema } = metaSchema as Record<string, unknown>;
  const ajv = new Ajv({ strict: false, allErrors: true, validateSchema: false });
  addFormats(ajv);
  // It names its dialect by its own URL too; its rules are draft-07's.
  // It is referred to with and without the trailing slash of its id.
  const { $schema: _jsonSchemaDialect, $id: _jsonSchemaId, ...referenced } = jsonSchema;
  ajv.addSchema({ ...referenced }, "https://meta.json-schema.tools/");
  ajv.addSchema({ ...referenced }, "https://meta.json-schema.tools");
  const validate = ajv.compile(schema);
  const valid = validate(document());
  assert.ok(valid, JSON.stringify(validate.errors?.slice(0, 10), null, 2));
});

test("the document says which procedures are reads and who may call them", () => {
  const methods = document()["methods"] as Array<Record<string, unknown>>;
  const kinds = new Map(methods.map((m) => [m["name"] as string, m["x-weft-kind"]]));
  assert.equal(kinds.get("project.list"), "query");
  assert.equal(kinds.get("project.create"), "mutation");
  assert.equal(kinds.get("ai.generateWorkflow"), "mutation", "an AI call spends: never cached or retried as a read");
  for (const method of methods) {
    assert.ok(method["x-weft-kind"] === "query" || method["x-weft-kind"] === "mutation", String(method["name"]));
    assert.ok(!String(method["description"]).includes("[`"), `${String(method["name"])}: a Rust doc link leaked`);
  }
  const servers = document()["servers"] as Array<{ url: string }>;
  assert.match(servers[0]!.url, /^https?:\/\/[^/]+\/rpc$/);
});
