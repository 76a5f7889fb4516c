"""Reading a GraphQL request off HTTP: a JSON body by POST, or query parameters by GET.

One operation per request (no batching). A request that cannot be read is refused
with a status and a coded message in both languages, before anything runs.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from starlette.datastructures import QueryParams
from starlette.requests import Request

from ..domain.errors import RuleViolation


@dataclass(frozen=True)
class GraphQLRequest:
    query: str
    variables: dict[str, object] = field(default_factory=dict)
    operation_name: str | None = None
    via_get: bool = False


class RequestRefused(Exception):
    def __init__(
        self,
        status: int,
        code: str,
        *,
        field: str | None = None,
        headers: dict[str, str] | None = None,
        **params: object,
    ) -> None:
        super().__init__(code)
        self.status = status
        self.rule = RuleViolation(code, field, params=params)
        self.headers = headers or {}

    def payload(self, lang: str, request_id: str) -> dict[str, object]:
        rule = self.rule
        return {
            "errors": [
                {
                    "message": rule.message_en if lang == "en" else rule.message_zh,
                    "extensions": {
                        "code": rule.code,
                        "field": rule.field,
                        "messageZh": rule.message_zh,
                        "messageEn": rule.message_en,
                        "requestId": request_id,
                    },
                }
            ]
        }


def is_json(content_type: str) -> bool:
    return content_type.split(";", 1)[0].strip().lower() == "application/json"


def read_request(
    method: str, content_type: str, body: bytes, params: QueryParams
) -> GraphQLRequest:
    if method == "GET":
        text = params.get("variables")
        variables: object = _json(text) if text else text
        return _request(params.get("query"), variables, params.get("operationName"), True)
    if not is_json(content_type):
        raise RequestRefused(415, "REQUEST_CONTENT_TYPE")
    data = _json(body)
    if not isinstance(data, dict):
        raise RequestRefused(400, "REQUEST_SHAPE")
    return _request(data.get("query"), data.get("variables"), data.get("operationName"), False)


def _json(text: str | bytes) -> object:
    try:
        return json.loads(text)
    except (ValueError, RecursionError) as error:
        raise RequestRefused(400, "REQUEST_NOT_JSON") from error


def _request(
    query: object, variables: object, operation_name: object, via_get: bool
) -> GraphQLRequest:
    if not isinstance(query, str) or not query.strip():
        raise RequestRefused(400, "REQUEST_SHAPE")
    if variables is not None and not isinstance(variables, dict):
        raise RequestRefused(400, "REQUEST_SHAPE")
    if operation_name is not None and not isinstance(operation_name, str):
        raise RequestRefused(400, "REQUEST_SHAPE")
    _check_lists(variables)
    return GraphQLRequest(query, variables or {}, operation_name or None, via_get)


# Twice the largest batch of objects any field takes (1,000 uploads, AI reads): a longer
# list can only be refused, and graphql-core would coerce every item of it before any
# resolver could.
MAX_VARIABLE_LIST = 2_000
# Twice the largest list of strings (reconciliation's 10,000 Study Instance UIDs): a string
# coerces in about 2 µs, against 32 µs for an input object.
MAX_STRING_LIST = 20_000


def _check_lists(variables: object) -> None:
    """Refuse a list in the variables longer than its limit, before coercion."""
    pending: list[object] = [variables]
    while pending:
        value = pending.pop()
        if isinstance(value, dict):
            pending.extend(value.values())
        elif isinstance(value, list):
            if len(value) > MAX_VARIABLE_LIST:
                if not all(isinstance(item, str) for item in value):
                    raise RequestRefused(400, "VARIABLES_LIST_TOO_LONG", limit=MAX_VARIABLE_LIST)
                if len(value) > MAX_STRING_LIST:
                    raise RequestRefused(400, "VARIABLES_LIST_TOO_LONG", limit=MAX_STRING_LIST)
                continue  # strings hold no lists
            pending.extend(value)


async def read_body(request: Request, limit: int, code: str = "REQUEST_TOO_LARGE") -> bytes:
    """The body, refused with 413 as soon as it is known to pass `limit` bytes.

    A declared Content-Length over the limit is refused before anything is read; a
    chunked (or lying) body is read only until its running total passes the limit.
    """
    # Closing the connection after the answer stops the server taking in (and throwing
    # away) the rest of the body, as it would to keep the connection alive.
    close = {"connection": "close"}
    declared = request.headers.get("content-length", "")
    if declared.isascii() and declared.isdigit() and int(declared) > limit:
        raise RequestRefused(413, code, headers=close)
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise RequestRefused(413, code, headers=close)
        chunks.append(chunk)
    return b"".join(chunks)
