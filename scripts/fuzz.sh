#!/usr/bin/env bash
# Contract fuzzing: Schemathesis generates requests from the committed openapi/openapi.json and sends them
# to the real service (on a real database, with a real token), checking every answer against the document.
#
#   npm run fuzz                      full pass: FUZZ_MAX_EXAMPLES generated cases per operation (default 200),
#                                     random seed (FUZZ_SEED=<seed> repeats a run)
#   bash scripts/fuzz.sh --bounded    for CI: 10 generated cases per operation and a fixed seed, with the
#                                     deterministic boundary cases of the coverage phase on every operation but
#                                     the searches (below)
#   bash scripts/fuzz.sh --install    only installs the fuzzer (step 1 below): CI runs it at its start, while it
#                                     waits on npm anyway, since pip took over a minute here, mostly on the network
#
# Checks: no 5xx; every status, body and content type as documented; invalid input refused; protected
# routes refuse missing or bad tokens; an undocumented method gets 405 with Allow. Known false positives
# are dropped in scripts/fuzz-hooks.py, each with its reason.
#
# Schemathesis comes from PyPI into a virtualenv of its own under .tools/ (git-ignored), pinned below.
# The database is the one in MONGODB_URL, or else a FerretDB started for this run (scripts/with-database.ts);
# the service gets a database of its own there, dropped afterwards. Exit code: Schemathesis's (0 = no failure).
set -euo pipefail
cd "$(dirname "$0")/.."

SCHEMATHESIS_VERSION=4.32.5
VENV=.tools/fuzz-venv
BOUNDED_MAX_EXAMPLES=10
BOUNDED_SEED=20250101

mode=full
for arg in "$@"; do
  case $arg in
    --bounded) mode=bounded ;;
    --install) mode=install ;;
    *) echo "usage: bash scripts/fuzz.sh [--bounded | --install]" >&2; exit 2 ;;
  esac
done

# A Python whose ast module is safe in threads. Before 3.11.8 and 3.12.2, ast.parse kept its recursion depth in
# state shared by all threads (CPython gh-106905): with two workers, Hypothesis's ast.parse of a lambda's source
# crashed at random ("SystemError: AST constructor recursion depth mismatch"), failing one CI run in three. The
# venv is made with the newest fixed Python on PATH or under pyenv; with none, the fuzzer runs one worker.
has_thread_safe_ast () {
  "$1" -c 'import sys; v = sys.version_info[:3]; sys.exit(0 if v >= (3, 12, 2) or (3, 11, 8) <= v < (3, 12) else 1)' 2>/dev/null
}
thread_safe_python () {
  local candidate
  local pyenv_root; pyenv_root=$(pyenv root 2>/dev/null || echo "${PYENV_ROOT:-$HOME/.pyenv}")
  for candidate in python3.14 python3.13 python3 "$pyenv_root"/versions/3.1[3-9]*/bin/python3; do
    if has_thread_safe_ast "$candidate"; then echo "$candidate"; return 0; fi
  done
  return 1
}

# 1. the fuzzer, installed once per machine (the same pin everywhere, so CI and developers agree)
if ! "$VENV/bin/schemathesis" --version 2>/dev/null | grep -qF "version $SCHEMATHESIS_VERSION" ||
  { ! has_thread_safe_ast "$VENV/bin/python" && thread_safe_python >/dev/null; }; then
  python=$(thread_safe_python || echo python3)
  echo "fuzz: installing schemathesis $SCHEMATHESIS_VERSION into $VENV ($("$python" --version))"
  rm -rf "$VENV"
  "$python" -m venv "$VENV"
  "$VENV/bin/pip" install --quiet --disable-pip-version-check "schemathesis==$SCHEMATHESIS_VERSION"
fi
if [[ $mode == install ]]; then exit 0; fi

# 2. a database: re-run this script under with-database.ts, which sets MONGODB_URL (starting FerretDB if needed)
if [[ -z ${FUZZ_UNDER_DATABASE:-} ]]; then
  FUZZ_UNDER_DATABASE=1 exec npx tsx scripts/with-database.ts bash scripts/fuzz.sh "$@"
fi

# 3. the real service, from its sources (as `npm run start:dev` runs it), with a bootstrap user holding every role.
# Login limits as high as they go: the fuzzer sends thousands of logins from one address, and a 429 there
# would only hide the answers under test. The token must outlive a full pass. The query time limit is a
# minute: on a busy machine FerretDB's scans of the fuzzer's thousands of events passed the default 5 s,
# and the 503 QUERY_TIMEOUT that follows is a documented answer about load, not the contract under test.
NAME=fuzz
SERVICE_ENV=(LOGIN_MAX_PER_IP=1000000000 LOGIN_MAX_FAILURES=1000000000 LOGIN_USER_MAX_FAILURES=1000000000 JWT_TTL=86400 QUERY_MAX_TIME_MS=60000 QUERY_MAX_CONCURRENT=1000 QUERY_MAX_CONCURRENT_PER_TENANT=1000)
# shellcheck source=scripts/service-under-test.sh
source scripts/service-under-test.sh

TOKEN=$(curl -fsS -X POST "$BASE_URL/login" -H 'content-type: application/json' \
  --data "{\"username\":\"$ADMIN_USERNAME\",\"password\":\"$ADMIN_PASSWORD\"}" |
  node -e 'let s = ""; process.stdin.on("data", (d) => { s += d }).on("end", () => process.stdout.write(JSON.parse(s).access_token))')

# 4. the fuzzer
if [[ $mode == bounded ]]; then
  max_examples=$BOUNDED_MAX_EXAMPLES
  seed=${FUZZ_SEED:-$BOUNDED_SEED}
else
  max_examples=${FUZZ_MAX_EXAMPLES:-200}
  seed=${FUZZ_SEED:-$RANDOM$RANDOM}
fi
echo "fuzz: $mode pass against $BASE_URL (max $max_examples examples per operation, seed $seed)"

workers=2
has_thread_safe_ast "$VENV/bin/python" || workers=1
status=0
# GET /events/stream is left out: a live feed never ends, so every generated call would wait out the request
# timeout. Its parameters are GET /events's filters (fuzzed there) and afterSeq; test/routes/events-stream.test.ts
# covers its 400s.
fuzz () {
  FUZZ_ADMIN_USERNAME=$ADMIN_USERNAME SCHEMATHESIS_HOOKS=scripts/fuzz-hooks.py "$VENV/bin/schemathesis" run openapi/openapi.json \
    --url "$BASE_URL" \
    --header "Authorization: Bearer $TOKEN" \
    --checks not_a_server_error,status_code_conformance,response_schema_conformance,content_type_conformance,negative_data_rejection,ignored_auth,unsupported_method,allow_header_conformance \
    --max-examples "$max_examples" \
    --seed "$seed" \
    --workers "$workers" \
    --request-timeout 120 \
    --generation-database none \
    --exclude-operation-id streamEvents \
    --no-color "$@" || status=$?
}
# The searches take about 40 filter parameters each: the coverage phase's boundary cases of every one of them took
# five of the bounded pass's six minutes here. CI fuzzes them without it (examples, fuzzing, stateful), every other
# operation with every phase; the full pass runs every phase on everything.
SEARCHES=(listEvents listEventsLegacy exportEvents getEventFacets getEventHistogram)
if [[ $mode == bounded ]]; then
  fuzz "${SEARCHES[@]/#/--exclude-operation-id=}"
  fuzz "${SEARCHES[@]/#/--include-operation-id=}" --phases examples,fuzzing,stateful
else
  fuzz
fi

if service_logged_errors; then status=1; fi
exit "$status"
