#!/usr/bin/env bash
# The independent verifier in Go (verifier-go/, golang.org/x/mod/sumdb/note and sumdb/tlog only) against the real
# service: log in as the bootstrap admin, make a monitor API key, keep the log's verifier key (GET /integrity/keys
# ?tenant=), ingest events and keep their receipts, verify and save a first checkpoint; ingest more, then verify
# with the monitor key: the checkpoint's signature, the inclusion of every receipt's leaf hash, and the consistency
# of the saved checkpoint with the current one, all from /logs/{tenant}/ (C2SP tlog-tiles). Then the verifier must
# refuse: another log key, and a receipt whose leaf hash was changed.
# Before the service: gofmt, go vet and go test (cosignature_test.go: a cosignature litewitness made verifies).
# The service and its database are set up as scripts/sdk-check.sh does (scripts/service-under-test.sh).
#   bash scripts/go-verifier.sh
set -euo pipefail
cd "$(dirname "$0")/.."
export GOTOOLCHAIN=local PATH="/usr/local/go/bin:$PATH"

if [[ -z ${GO_VERIFIER_UNDER_DATABASE:-} ]]; then
  # built before any database: a verifier that does not build needs no service to fail
  mkdir -p .tools/bin
  (cd verifier-go && test -z "$(gofmt -l .)" && go vet ./... && go test ./... && go build -o ../.tools/bin/verifier-go .)
  GO_VERIFIER_UNDER_DATABASE=1 exec npx tsx scripts/with-database.ts bash scripts/go-verifier.sh "$@"
fi

NAME=goverifier
SERVICE_ENV=(CHECKPOINT_INTERVAL_MS=200 AUDIT_LOG_ORIGIN=go-verifier.audit-log.example)
# shellcheck source=scripts/service-under-test.sh
source scripts/service-under-test.sh
VERIFIER=$PWD/.tools/bin/verifier-go
OUT="$WORK_DIR/go-verifier"
mkdir -p "$OUT"

json () { node -e 'let s="";process.stdin.on("data",(d)=>{s+=d}).on("end",()=>{const v=JSON.parse(s);process.stdout.write(String((new Function("v","return "+process.argv[1]))(v)))})' "$1"; }
call () { local method=$1 path=$2 token=$3 body=${4:-}
  curl -fsS -X "$method" "$BASE_URL$path" -H "authorization: Bearer $token" ${body:+-H 'content-type: application/json' --data "$body"}; }

TOKEN=$(curl -fsS -X POST "$BASE_URL/login" -H 'content-type: application/json' \
  --data "{\"username\":\"$ADMIN_USERNAME\",\"password\":\"$ADMIN_PASSWORD\"}" | json 'v.access_token')
MONITOR=$(call POST /tenant/api-keys "$TOKEN" '{"name":"go verifier","roles":["monitor"]}' | json 'v.key')
# kept once, outside the service, as an auditor keeps it
VKEY=$(curl -fsS "$BASE_URL/integrity/keys?tenant=$NAME" | json 'v.keys.find((k) => k.current).verifier_key')
echo "go-verifier: the log's verifier key: $VKEY"

# ingest COUNT events; their receipts ({seq, leaf_hash}) appended to $OUT/receipts.json
ingest () {
  local count=$1 first=$2
  local body; body=$(node -e 'const [n, f] = process.argv.slice(1).map(Number); process.stdout.write(JSON.stringify({ events: Array.from({ length: n }, (_, i) => ({
    event_type: "AccountCreated", username: `user-${f + i}`, entitytype: "customer_account", ip: "192.0.2.1", location: "go verifier",
    description: "an event for the Go verifier", event_id: `go-${f + i}`, event_specificdetails: { n: f + i } })) }))' "$count" "$first")
  call POST /events/batch "$TOKEN" "$body" > "$OUT/answer.json"
  node -e 'const fs = require("node:fs"); const [answer, file] = process.argv.slice(1)
    const items = JSON.parse(fs.readFileSync(answer, "utf8")).items
    if (items.some((item) => typeof item.seq !== "number")) throw new Error("an event without a seq: " + JSON.stringify(items.find((item) => typeof item.seq !== "number")))
    const kept = fs.existsSync(file) ? JSON.parse(fs.readFileSync(file, "utf8")) : []
    fs.writeFileSync(file, JSON.stringify([...kept, ...items.map((item) => ({ seq: item.seq, leaf_hash: item.receipt?.leaf_hash ?? item.hash }))]))' \
    "$OUT/answer.json" "$OUT/receipts.json"
}
# waits (the service waits up to a few intervals per call) for a checkpoint covering the newest receipt
covered () {
  local size; size=$(json 'Math.max(...v.map((r) => r.seq))' < "$OUT/receipts.json")
  for _ in $(seq 1 20); do
    if call GET "/integrity/checkpoint?min_tree_size=$size" "$MONITOR" > /dev/null 2>&1; then return 0; fi
  done
  echo "go-verifier: no checkpoint covers seq $size"; return 1
}

ingest 300 0
covered
"$VERIFIER" -url "$BASE_URL" -tenant "$NAME" -token "$MONITOR" -vkey "$VKEY" -receipts "$OUT/receipts.json" -save-checkpoint "$OUT/first.note"
echo "go-verifier: first checkpoint: $(head -2 "$OUT/first.note" | tail -1) leaves"
ingest 500 300
ingest 7 800
covered
"$VERIFIER" -url "$BASE_URL" -tenant "$NAME" -token "$MONITOR" -vkey "$VKEY" -receipts "$OUT/receipts.json" -old-checkpoint "$OUT/first.note"
# a log its admin made public is followed with no credential at all
call PUT /tenant/log-access "$TOKEN" '{"public":true}' > /dev/null
"$VERIFIER" -url "$BASE_URL" -tenant "$NAME" -vkey "$VKEY" -old-checkpoint "$OUT/first.note"

# a verifier that cannot fail proves nothing: it must refuse another key, and a receipt that the log does not hold
OTHER_VKEY=$(node -e 'const c = require("node:crypto"); const name = process.argv[1]; const raw = c.generateKeyPairSync("ed25519").publicKey.export({ format: "der", type: "spki" }).subarray(-32)
  const id = c.createHash("sha256").update(name + "\n").update(Buffer.from([1])).update(raw).digest().subarray(0, 4).toString("hex")
  process.stdout.write(`${name}+${id}+${Buffer.concat([Buffer.from([1]), raw]).toString("base64")}`)' "${VKEY%%+*}")
if "$VERIFIER" -url "$BASE_URL" -tenant "$NAME" -token "$MONITOR" -vkey "$OTHER_VKEY" > "$OUT/refused.log" 2>&1; then
  echo "go-verifier: a checkpoint verified with another key"; exit 1
fi
echo "go-verifier: refused another key: $(tail -1 "$OUT/refused.log")"
node -e 'const fs = require("node:fs"); const r = JSON.parse(fs.readFileSync(process.argv[1], "utf8")); const k = r[5]
  k.leaf_hash = (k.leaf_hash[0] === "0" ? "1" : "0") + k.leaf_hash.slice(1); fs.writeFileSync(process.argv[2], JSON.stringify([k]))' "$OUT/receipts.json" "$OUT/forged.json"
if "$VERIFIER" -url "$BASE_URL" -tenant "$NAME" -token "$MONITOR" -vkey "$VKEY" -receipts "$OUT/forged.json" > "$OUT/refused.log" 2>&1; then
  echo "go-verifier: a changed receipt verified"; exit 1
fi
echo "go-verifier: refused a changed receipt: $(tail -1 "$OUT/refused.log")"
if service_logged_errors; then exit 1; fi
echo "go-verifier: passed"
