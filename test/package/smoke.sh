#!/usr/bin/env bash
# The package as a user gets it: `npm pack` (prepack builds dist/), the tarball installed into a fresh
# project, and that project run on Node 20, 22 and 24, Bun, Deno and a Workers bundle. Every check
# fails the run loudly. `bash test/package/smoke.sh`, from any directory; .ci/run calls it.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
NODE20=$(command -v node)
NODE22=$ROOT/node_modules/node22/bin/node
NODE24=$ROOT/node_modules/node24/bin/node
BUN=$ROOT/node_modules/bun/bin/bun.exe
DENO=$ROOT/node_modules/deno/deno
WORK=$(mktemp -d "${TMPDIR:-/tmp}/portcullis-smoke.XXXXXX")
trap 'rm -rf "$WORK"' EXIT

fail() { echo "smoke: FAIL: $*" >&2; exit 1; }
step() { echo "--- smoke [${SECONDS} s]: $*"; }
# The exact version the repository pins (package.json devDependencies), so the consumer installs from npm's cache.
pinned() { node -p "require('$ROOT/package.json').devDependencies['$1']"; }

step "npm pack"
(cd "$ROOT" && npm pack --silent --pack-destination "$WORK" --json >"$WORK/pack.json") || fail "npm pack"
TARBALL=$(node -e '
  const [pack] = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
  const paths = pack.files.map((file) => file.path);
  // Only the build, the README and the LICENSE ship: no sources, tests, benchmarks, demo policies, fixtures or scratch files.
  const unwanted = paths.filter((path) => /^(src|adapters|bin|test|bench|policies|coverage|node_modules|\.ci)\/|fixture|scratch|\.(test|spec|type-test)\.|\.cpuprofile$|\.wrangler|\.dev\.vars|results\.json|tsconfig/.test(path));
  if (unwanted.length) { console.error(`the tarball ships ${unwanted.join(", ")}`); process.exit(1); }
  for (const needed of ["package.json", "README.md", "LICENSE", "dist/src/index.js", "dist/src/index.d.ts", "dist/bin/portcullis.js", "dist/adapters/cloudflare.js", "dist/src/crypto/index.js"]) {
    if (!paths.includes(needed)) { console.error(`the tarball lacks ${needed}`); process.exit(1); }
  }
  console.error(`tarball ${pack.filename}: ${(pack.size / 1024).toFixed(1)} kB packed, ${(pack.unpackedSize / 1024).toFixed(1)} kB unpacked, ${pack.entryCount} files`);
  console.log(pack.filename);
' "$WORK/pack.json") || fail "the tarball's file list"
TARBALL=$WORK/$TARBALL

step "npm install portcullis alone: the Node adapter serves"
mkdir "$WORK/alone"
(
  cd "$WORK/alone"
  echo '{ "name": "alone", "private": true, "type": "module" }' >package.json
  npm install --no-audit --no-fund --prefer-offline --loglevel=error "$TARBALL" || fail "npm install of the tarball alone"
  node --input-type=module -e "
    import { definePolicy } from 'portcullis';
    import { serve } from 'portcullis/node';
    const policy = definePolicy({ transport: { requireHttps: false }, routes: { 'GET /health': { authn: 'anonymous' } } });
    const gateway = await serve(policy, () => new Response('ok'), { port: 0, handleSignals: false, env: { log: () => {} } });
    const status = (await fetch(gateway.url + '/health')).status;
    await gateway.close();
    if (status !== 200) throw new Error('serve answered ' + status);
  " || fail "portcullis/node with nothing but the tarball installed"
)

step "install the tarball into a fresh project"
mkdir "$WORK/consumer"
cp -R "$ROOT"/test/package/consumer/. "$WORK/consumer/"
cd "$WORK/consumer"
echo '{ "name": "consumer", "private": true, "type": "module" }' >package.json
npm install --no-audit --no-fund --prefer-offline --loglevel=error "$TARBALL" \
  "hono@$(pinned hono)" "typescript@$(pinned typescript)" "@types/node@$(pinned @types/node)" \
  "@opentelemetry/api@$(pinned @opentelemetry/api)" \
  || fail "npm install of the tarball"

for node in "$NODE20" "$NODE22" "$NODE24"; do
  step "plain Node ESM, no loader, on $("$node" --version)"
  "$node" node.mjs || fail "node.mjs on $("$node" --version)"
done

step "strict TypeScript consumer (NodeNext, strict, no skipLibCheck)"
node_modules/.bin/tsc -p tsconfig.json || fail "tsc reports errors in a strict consumer"

step "Bun"
"$BUN" bun.mjs || fail "bun.mjs"

step "Deno"
DENO_NO_UPDATE_CHECK=1 "$DENO" run --no-prompt --allow-net=127.0.0.1 --allow-read --allow-env deno.mjs || fail "deno.mjs"

step "a Worker bundled by wrangler"
# Wrangler 4 needs Node >= 22. --dry-run bundles and stops before any upload.
WRANGLER_SEND_METRICS=false "$NODE24" "$ROOT/node_modules/wrangler/bin/wrangler.js" deploy --dry-run --outdir bundle >"$WORK/wrangler.log" 2>&1 \
  || { cat "$WORK/wrangler.log" >&2; fail "wrangler deploy --dry-run"; }
node -e '
  const { readFileSync } = require("fs");
  const { gzipSync } = require("zlib");
  const script = readFileSync("bundle/worker.js");
  if (!script.includes("portcullis")) { console.error("the bundle does not contain portcullis"); process.exit(1); }
  console.log(`worker bundle: ${(script.length / 1024).toFixed(1)} kB, ${(gzipSync(script, { level: 9 }).length / 1024).toFixed(1)} kB gzip`);
' || fail "the Worker bundle"

printf '%s\n' 'gateway listening' \
  '{"time":"2026-12-03T10:00:00Z","event":"portcullis.deny","reason":"authn.required","status":401,"method":"GET","path":"/v1/x","route":null,"clientIp":"203.0.113.7","requestId":"r1"}' \
  >"$WORK/events.jsonl"
for node in "$NODE20" "$NODE22" "$NODE24"; do
  version=$("$node" --version)
  # npx once, as a user types it; then the same installed bin directly (npm's start-up is slow here).
  cli() { PATH="$(dirname "$node"):$PATH" node_modules/.bin/portcullis "$@"; }
  step "npx portcullis lint, then test|explain|openapi|rules, on $version"
  PATH="$(dirname "$node"):$PATH" npx --no-install portcullis lint policy.ts || fail "npx portcullis lint on $version"
  cli test specs || fail "portcullis test on $version"
  cli explain policy.ts "GET https://api.example.com/v1/users/42" >/dev/null || fail "portcullis explain on $version"
  cli openapi policy.ts --out "$WORK/openapi.json" && grep -q '"openapi"' "$WORK/openapi.json" || fail "portcullis openapi on $version"
  cli rules >/dev/null || fail "portcullis rules on $version"
  # report inlines uPlot read from the consumer's node_modules: it must have come with the package.
  cli report "$WORK/events.jsonl" --out "$WORK/report.html" >/dev/null && grep -q 'uPlot' "$WORK/report.html" \
    || fail "portcullis report on $version"
  # A policy definePolicy refuses is a lint error (exit 1), not a crash of the loader (exit 2).
  status=0
  cli lint invalid-policy.ts >"$WORK/invalid.log" 2>&1 || status=$?
  grep -q 'policy.invalid' "$WORK/invalid.log" && [ "$status" = 1 ] \
    || { cat "$WORK/invalid.log" >&2; fail "portcullis lint invalid-policy.ts exited $status on $version, not 1 with policy.invalid"; }
done

step "portcullis diff, import and replay from the installed package"
cli diff policy.ts policy.ts --fail-on-widen | grep -q 'no change in access' || fail "portcullis diff"
# The imported policy loads portcullis/json-schema (and its validator) from the installed package.
cli import "$WORK/openapi.json" --out imported.ts 2>/dev/null || fail "portcullis import"
cli lint imported.ts >"$WORK/imported-lint.log" || { cat "$WORK/imported-lint.log" >&2; fail "portcullis lint of the imported policy"; }
: >"$WORK/events.jsonl"
cli replay "$WORK/events.jsonl" --policy imported.ts --format json | grep -q '"replayed": 0' || fail "portcullis replay"

echo "smoke [${SECONDS} s]: the package installs and runs on Node 20, 22 and 24, Bun, Deno and Workers"
