#!/usr/bin/env bash
# SDK round trips: generate, fresh from the committed openapi/openapi.json, the clients a client team would
# generate, and use each against the real service on a real database:
#   - TypeScript: openapi-typescript + openapi-fetch, type-checked with `tsc --strict` (no casts), run with tsx;
#   - Python: openapi-python-client from PyPI, in a virtualenv under .tools/ (pinned below, made on first run).
# Each logs in, creates events, lists with an event_type filter and with a details filter, follows
# next_cursor to a second page, gets one event by id and exports CSV, asserting what it gets back
# (sdk-check/roundtrip.ts, sdk-check/roundtrip.py). The generated code goes to .sdk/ (git-ignored).
#
# The database and the service are set up as scripts/fuzz.sh does: MONGODB_URL, else a FerretDB started
# for this run (scripts/with-database.ts); the service gets a database of its own there, dropped afterwards.
#   npm run sdk:check
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON_CLIENT_VERSION=0.29.1
VENV=.tools/sdk-venv
OUT=.sdk

# 1. generators: openapi-typescript is an npm devDependency; openapi-python-client lives in its own virtualenv
if ! "$VENV/bin/openapi-python-client" --version 2>/dev/null | grep -qF "version: $PYTHON_CLIENT_VERSION"; then
  echo "sdk-check: installing openapi-python-client $PYTHON_CLIENT_VERSION into $VENV"
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install --quiet --disable-pip-version-check "openapi-python-client==$PYTHON_CLIENT_VERSION"
fi

# 2. a database: re-run under with-database.ts, which sets MONGODB_URL (starting FerretDB if needed)
if [[ -z ${SDK_UNDER_DATABASE:-} ]]; then
  # generate and type-check first: a client that does not compile needs no service to fail
  rm -rf "$OUT"
  mkdir -p "$OUT/ts" "$OUT/python"
  npx openapi-typescript openapi/openapi.json --output "$OUT/ts/schema.d.ts" --silent
  npx tsc -p sdk-check/tsconfig.json
  # the client is used as generated: no type assertions, no non-null assertions
  if grep -nE '\bas [A-Za-z{(]|[A-Za-z0-9_)\]]!(\.|\[|\))' sdk-check/roundtrip.ts | grep -v '^\s*[0-9]*:\s*//\|^[0-9]*: \*'; then
    echo "sdk-check: sdk-check/roundtrip.ts casts: the generated types should be enough" >&2; exit 1
  fi
  echo "sdk-check: TypeScript client generated and type-checked (tsc --strict)"
  "$VENV/bin/openapi-python-client" generate --path openapi/openapi.json --output-path "$OUT/python/audit_log_service_client" \
    --meta none --config sdk-check/openapi-python-client.yaml --overwrite > "$OUT/python-generate.log" 2>&1 ||
    { cat "$OUT/python-generate.log" >&2; exit 1; }
  if grep -qi 'warning' "$OUT/python-generate.log"; then cat "$OUT/python-generate.log" >&2; echo "sdk-check: openapi-python-client warned" >&2; exit 1; fi
  echo "sdk-check: Python client generated"
  SDK_UNDER_DATABASE=1 exec npx tsx scripts/with-database.ts bash scripts/sdk-check.sh "$@"
fi

# 3. the real service, as `npm start` runs it, with a bootstrap user holding every role
NAME=sdk
SERVICE_ENV=()
# shellcheck source=scripts/service-under-test.sh
source scripts/service-under-test.sh

# 4. the round trips; both run, and either failing fails the check
status=0
node --import tsx sdk-check/roundtrip.ts "$BASE_URL" "$ADMIN_USERNAME" "$ADMIN_PASSWORD" || { echo "sdk-check: TypeScript round trip FAILED" >&2; status=1; }
"$VENV/bin/python" sdk-check/roundtrip.py "$OUT/python" "$BASE_URL" "$ADMIN_USERNAME" "$ADMIN_PASSWORD" || { echo "sdk-check: Python round trip FAILED" >&2; status=1; }
if service_logged_errors; then status=1; fi
exit "$status"
