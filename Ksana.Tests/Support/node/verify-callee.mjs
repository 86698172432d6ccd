// A callee for tests that checks Standard Webhooks signatures with the official `standardwebhooks`
// package, so Ksana's signing is judged by a verifier nobody here wrote.
//
//   node verify-callee.mjs [port]      (or PORT=…; 0 or nothing: any free port)
//   VERIFY_SECRETS="whsec_… whsec_…"   the secrets this callee knows, separated by spaces or commas
//
// It answers 200 when the request verifies with any known secret, else 401. Its first line on
// stdout is {"listening":<port>}; after that, one JSON line per request:
// {"method","path","headers","body","verified","error"}. Bodies over 1 MiB are refused with 413.
import http from "node:http";
import { Webhook } from "standardwebhooks";

const BODY_MAX = 1024 * 1024;

const secrets = (process.env.VERIFY_SECRETS ?? "").split(/[\s,]+/).filter((s) => s.length > 0);
if (secrets.length === 0) {
  console.error("verify-callee: VERIFY_SECRETS holds no secret");
  process.exit(2);
}
const verifiers = secrets.map((secret) => new Webhook(secret));

function verify(body, headers) {
  let error = "no secret";
  for (const verifier of verifiers) {
    try {
      verifier.verify(body, headers, { jsonParse: false });
      return { verified: true, error: null };
    } catch (e) {
      error = String(e?.message ?? e);
    }
  }
  return { verified: false, error };
}

const server = http.createServer((request, response) => {
  const chunks = [];
  let size = 0;
  request.on("data", (chunk) => {
    size += chunk.length;
    if (size <= BODY_MAX) chunks.push(chunk);
  });
  request.on("end", () => {
    if (size > BODY_MAX) {
      response.writeHead(413).end();
      return;
    }
    const body = Buffer.concat(chunks);
    const { verified, error } = verify(body, request.headers);
    process.stdout.write(
      JSON.stringify({
        method: request.method,
        path: request.url,
        headers: request.headers,
        body: body.toString("utf8"),
        verified,
        error,
      }) + "\n",
    );
    response.writeHead(verified ? 200 : 401, { "content-type": "text/plain" }).end(verified ? "ok" : `not verified: ${error}`);
  });
});

const port = Number(process.argv[2] ?? process.env.PORT ?? 0);
server.listen(port, "127.0.0.1", () => {
  process.stdout.write(JSON.stringify({ listening: server.address().port }) + "\n");
});

// The test harness closes stdin or sends SIGTERM when it is done; either way, stop at once.
process.on("SIGTERM", () => process.exit(0));
process.stdin.on("end", () => process.exit(0));
process.stdin.resume();
