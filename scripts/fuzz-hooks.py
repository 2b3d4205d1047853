"""Schemathesis hooks for scripts/fuzz.sh (loaded through SCHEMATHESIS_HOOKS).

Each exclusion here is a known false positive, kept as narrow as it can be, with the reason.
"""
import os

import schemathesis

# Node's HTTP parser refuses a request whose request line and headers exceed 16 KiB with 431, before
# the service sees it. The document bounds each query parameter (100 values of up to 4096 characters,
# 40 parameters), which together allow far longer query strings than any HTTP server takes; no OpenAPI
# keyword bounds the whole URL. A 431 is still a refusal (nothing is read or stored), so a failure whose
# response is 431 says nothing about the service.
HEADERS_TOO_LARGE = 431
# Likewise a body over its route's limit is refused with 413 from its Content-Length, before it is read:
# the webhook routes' filter (the search filters, up to 100 values of 4096 characters each) allows bodies far
# over their 8 KiB limit, so generated invalid data is refused by size before by schema. Still a refusal.
BODY_TOO_LARGE = 413


@schemathesis.hook
def filter_failure(ctx, failure, case, response):
    return response is None or response.status_code not in (HEADERS_TOO_LARGE, BODY_TOO_LARGE)


# The fuzzer's own user must survive the run: with the users' resources linked in the document (GET /users
# and GET /me answer `User`/`Me` components whose `username` feeds /users/{username}), the stateful phase
# learns the fuzzer's username and PATCHes (new roles, disabled) or DELETEs it. Every later request then
# gets 401, and the rest of the pass tests nothing but authentication. Its own username is swapped for
# one that does not exist: the request is still sent, and answered 404.
OWN_USERNAME = os.environ.get("FUZZ_ADMIN_USERNAME", "").lower()


@schemathesis.hook
def before_call(ctx, case, **kwargs):
    parameters = case.path_parameters or {}
    username = parameters.get("username")
    if OWN_USERNAME and case.method.upper() in ("PATCH", "DELETE") and isinstance(username, str) and username.lower() == OWN_USERNAME:
        parameters["username"] = "not-" + OWN_USERNAME
