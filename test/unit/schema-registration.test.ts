import assert from "node:assert/strict";
import { describe, it } from "node:test";

import { ErrorCode, ValidationError } from "../../src/core/errors.js";
import { schemaValidationError } from "../../src/store/schemas/schema-compile.js";
import { parseRegistration, versionTaken } from "../../src/store/schemas/schema-registration.js";

const schema = { type: "array", items: { type: "string" } };

describe("parseRegistration", () => {
  it("gives a registration its URI and dialect", () => {
    assert.deepEqual(parseRegistration({ type: "email.send", version: "2", schema }), {
      type: "email.send",
      version: 2,
      uri: "urn:ojs:schema:email.send:v2",
      schema,
      dialect: "2020-12",
    });
    assert.equal(parseRegistration({ type: "a", version: "1.2.0", schema, uri: "urn:x" }).uri, "urn:x");
  });

  it("refuses a bad type, version, schema or uri, naming the field", () => {
    const cases: Array<[Record<string, unknown>, string]> = [
      [{ type: 3, version: 1, schema }, "type"],
      [{ type: "bad type", version: 1, schema }, "type"],
      [{ type: "a", version: -1, schema }, "version"],
      [{ type: "a", version: 1 }, "schema"],
      [{ type: "a", version: 1, schema, uri: "" }, "uri"],
    ];
    for (const [r, field] of cases) {
      assert.throws(
        () => parseRegistration(r as never),
        (err: unknown) =>
          err instanceof ValidationError &&
          err.code === ErrorCode.InvalidRequest &&
          (err.details as { field?: string }).field === field,
        JSON.stringify(r),
      );
    }
  });

  it("says which version is taken", () => {
    const err = versionTaken("a", "1.2.0");
    assert.equal(err.code, ErrorCode.Duplicate);
    assert.match(err.message, /a already has a schema version 1\.2\.0/);
  });
});

describe("schemaValidationError", () => {
  const issues = [{ path: "/0", message: "must be string" }];

  it("names the first refused job, and its index only in a batch", () => {
    const one = schemaValidationError(1, [{ index: 0, type: "a", version: 1, issues }]);
    assert.equal(one.code, ErrorCode.SchemaValidation);
    assert.equal(one.message, "Job arguments do not match schema for a@1.");
    assert.equal("index" in (one.details as { issues: object[] }).issues[0]!, false);
    const batch = schemaValidationError(3, [
      { index: 2, type: "a", version: "1.0.0", issues },
      { index: 3, type: "b", version: 4, issues },
    ]);
    assert.equal(batch.message, "Job arguments do not match schema for a@1.0.0 (job 2 of the batch).");
    const details = batch.details as { issues: Array<{ index: number }>; validation_errors: string[] };
    assert.deepEqual(
      details.issues.map((i) => i.index),
      [2, 3],
    );
    assert.equal(details.validation_errors.length, 2);
  });
});
