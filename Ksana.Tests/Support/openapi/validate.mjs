// Validates an OpenAPI document against the OpenAPI 3.x schema and resolves every $ref.
// Usage: node validate.mjs path/to/openapi.json   (exit 0 and "valid" on success, 1 and the errors otherwise)
import SwaggerParser from "@apidevtools/swagger-parser";

const file = process.argv[2];
if (!file) {
  console.error("usage: node validate.mjs <openapi.json>");
  process.exit(2);
}
try {
  const api = await SwaggerParser.validate(file);
  const operations = Object.values(api.paths ?? {}).flatMap(item =>
    Object.keys(item).filter(k => ["get", "put", "post", "delete", "options", "head", "patch", "trace"].includes(k)));
  console.log(`valid: OpenAPI ${api.openapi}, ${Object.keys(api.paths ?? {}).length} paths, ${operations.length} operations`);
} catch (error) {
  console.error(`invalid: ${error.message}`);
  if (error.details) console.error(JSON.stringify(error.details, null, 2));
  process.exit(1);
}
