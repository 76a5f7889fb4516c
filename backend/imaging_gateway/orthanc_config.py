"""An Orthanc configuration with the billing plugin: for `make gateway-demo` and the tests.

    python -m imaging_gateway.orthanc_config CREDENTIALS.json FOLDER [API_URL [HTTP DICOM]]

writes FOLDER/orthanc.json and FOLDER/billing-token (0600) from the demo's credentials
(`make run` saves them in var/demo-credentials.json) and prints the configuration's path.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

PYTHON_PLUGIN = Path("/usr/share/orthanc/plugins/libOrthancPython.so")
PLUGIN_SCRIPT = Path(__file__).resolve().with_name("orthanc_plugin.py")


def orthanc_config(
    folder: Path,
    *,
    api_url: str,
    institution_id: str,
    token_file: Path,
    http_port: int = 8042,
    dicom_port: int = 4242,
    aet: str = "BILLINGPACS",
    plugin: bool = True,
    billing: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Storage under `folder`, listening on loopback only, no authentication (a demo or a
    test PACS), studies stable after 2 seconds; `billing` overrides the plugin's settings."""
    config: dict[str, Any] = {
        "Name": aet,
        "StorageDirectory": str(folder / "storage"),
        "IndexDirectory": str(folder / "storage"),
        "HttpPort": http_port,
        "DicomPort": dicom_port,
        "DicomAet": aet,
        "DicomCheckCalledAet": False,
        "RemoteAccessAllowed": False,
        "AuthenticationEnabled": False,
        "StableAge": 2,
        "HttpsVerifyPeers": False,
        "Plugins": [str(PYTHON_PLUGIN)] if plugin else [],
        "ImagingBilling": {
            "ApiUrl": api_url,
            "InstitutionId": institution_id,
            "TokenFile": str(token_file),
            "SpoolPath": str(folder / "billing-spool.sqlite3"),
            "PermissionCacheSeconds": 30,
            "FailOpen": True,
            "ViewingGuard": False,
            **(billing or {}),
        },
    }
    if plugin:
        config["PythonScript"] = str(PLUGIN_SCRIPT)
    return config


def write_token(path: Path, token: str) -> None:
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as out:
        out.write(token)


def main(argv: list[str]) -> int:
    if len(argv) < 2:
        sys.stderr.write(__doc__ or "")
        return 2
    credentials = json.loads(Path(argv[0]).read_text(encoding="utf-8"))
    folder = Path(argv[1]).resolve()
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    token_file = folder / "billing-token"
    http_port, dicom_port = (int(argv[3]), int(argv[4])) if len(argv) > 4 else (8042, 4242)
    write_token(token_file, credentials["institutionToken"])
    config = orthanc_config(
        folder,
        api_url=argv[2] if len(argv) > 2 else "http://127.0.0.1:8000",
        institution_id=credentials["institutionId"],
        token_file=token_file,
        http_port=http_port,
        dicom_port=dicom_port,
    )
    target = folder / "orthanc.json"
    target.write_text(json.dumps(config, indent=2), encoding="utf-8")
    sys.stdout.write(f"{target}\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
