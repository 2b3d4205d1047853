"""Schemathesis hooks for scripts/fuzz.sh (loaded through SCHEMATHESIS_HOOKS).

Each exclusion here is a known false positive, kept as narrow as it can be, with the reason.
"""
import schemathesis

# Node's HTTP parser refuses a request whose request line and headers exceed 16 KiB with 431, before
# the service sees it. The document bounds each query parameter (100 values of up to 4096 characters,
# 40 parameters), which together allow far longer query strings than any HTTP server takes; no OpenAPI
# keyword bounds the whole URL. A 431 is still a refusal (nothing is read or stored), so a failure whose
# response is 431 says nothing about the service.
HEADERS_TOO_LARGE = 431


@schemathesis.hook
def filter_failure(ctx, failure, case, response):
    return response is None or response.status_code != HEADERS_TOO_LARGE
