"""The client stands alone: standard library only, and the documented signature."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from imaging_billing import security
from imaging_gateway import signature

BACKEND = Path(__file__).resolve().parents[2] / "backend"


def test_the_client_imports_with_the_standard_library_alone() -> None:
    # given an isolated interpreter (-I: no user site, no PYTHON* variables; -S: no
    # site-packages) that sees only backend/
    script = (
        "import sys; sys.path.insert(0, sys.argv[1]); import imaging_gateway, json;"
        "import imaging_gateway.pacs, imaging_gateway.orthanc_config;"
        "print(json.dumps(sorted(m for m in sys.modules if m.startswith('imaging'))))"
    )
    # when it imports the client
    done = subprocess.run(
        [sys.executable, "-I", "-S", "-c", script, str(BACKEND)],
        capture_output=True,
        text=True,
        check=False,
    )
    # then it works, and nothing of the server came with it
    assert done.returncode == 0, done.stderr
    loaded = json.loads(done.stdout)
    assert "imaging_gateway" in loaded
    assert not [m for m in loaded if m.startswith("imaging_billing")]


@pytest.mark.parametrize(
    ("method", "query", "body"),
    [
        ("POST", "", b'{"query":"{ viewer { role } }"}'),
        ("GET", "query=%7Bviewer%7Brole%7D%7D&x=%2F", b""),
        ("POST", "", "检查 UTF-8 body".encode()),
    ],
)
def test_the_signature_is_the_servers_own(method: str, query: str, body: bytes) -> None:
    # given a token, an institution ID and a request
    token, institution, stamp = "ibi_abcDEF-123_xyz", "SW5zdGl0dXRpb246MQ==", "1767225600000"
    # when the client signs it as README documents
    mine = signature(
        token,
        method=method,
        path="/graphql",
        query=query,
        institution_id=institution,
        timestamp_ms=stamp,
        body=body,
    )
    # then the server's verifier accepts it, and refuses it for any other body
    signed = security.SignedRequest.of(institution, stamp, body, method=method, query=query)
    key = security.signing_key(token)
    assert security.signature_valid(key, signed, mine)
    other = security.SignedRequest.of(institution, stamp, body + b" ", method=method, query=query)
    assert not security.signature_valid(key, other, mine)
