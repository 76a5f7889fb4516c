"""A real Orthanc (Debian's, with orthanc-python) in a subprocess on loopback ports, DICOM
studies made with pydicom, and dcmtk's storescu to send them."""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import time
from pathlib import Path
from typing import Any

import httpx

from imaging_gateway.orthanc_config import PYTHON_PLUGIN, orthanc_config, write_token

PORTS = range(18100, 18200)


def missing_binaries() -> list[str]:
    found = [name for name in ("Orthanc", "storescu") if shutil.which(name) is None]
    return found + ([] if PYTHON_PLUGIN.exists() else ["orthanc-python"])


def port_in_range(taken: set[int]) -> int:
    for port in PORTS:
        if port in taken:
            continue
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
        taken.add(port)
        return port
    raise RuntimeError("no free port in 18100-18199")


class Orthanc:
    def __init__(
        self,
        folder: Path,
        *,
        api_url: str,
        institution_id: str,
        token: str,
        billing: dict[str, Any] | None = None,
    ) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        taken: set[int] = set()
        self.folder = folder
        self.http_port, self.dicom_port = port_in_range(taken), port_in_range(taken)
        self.base = f"http://127.0.0.1:{self.http_port}"
        self.token_file = folder / "billing-token"
        write_token(self.token_file, token)
        self.api_url, self.institution_id, self.billing = api_url, institution_id, billing
        self.stable_age = 2
        self.log = folder / "orthanc.log"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, *, plugin: bool = True) -> None:
        config = orthanc_config(
            self.folder,
            api_url=self.api_url,
            institution_id=self.institution_id,
            token_file=self.token_file,
            http_port=self.http_port,
            dicom_port=self.dicom_port,
            plugin=plugin,
            billing=self.billing,
        )
        config["StableAge"] = self.stable_age
        path = self.folder / "orthanc.json"
        path.write_text(json.dumps(config))
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(
                ["Orthanc", "--verbose", str(path)], stdout=out, stderr=subprocess.STDOUT
            )
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"{self.base}/system", timeout=1).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"Orthanc did not start:\n{self.log.read_text()[-4000:]}")
            time.sleep(0.2)

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=30)
            self.process = None

    def get(self, path: str) -> Any:
        response = httpx.get(f"{self.base}{path}", timeout=30)
        response.raise_for_status()
        return response.json()

    def post(self, path: str, body: Any) -> httpx.Response:
        return httpx.post(f"{self.base}{path}", json=body, timeout=120)

    def study_uids(self) -> set[str]:
        studies = self.get("/studies?expand")
        return {s["MainDicomTags"]["StudyInstanceUID"] for s in studies}

    def stable_count(self) -> int:
        return sum(1 for s in self.get("/studies?expand") if s["IsStable"])

    def send(self, files: list[Path]) -> subprocess.CompletedProcess[str]:
        """storescu to this Orthanc; `-v` so a refusal's status is in stderr."""
        command = ["storescu", "-v", "-aec", "BILLINGPACS", "127.0.0.1", str(self.dicom_port)]
        return subprocess.run(
            [*command, *map(str, files)], capture_output=True, text=True, timeout=120, check=False
        )


def make_study(folder: Path, *, series: int = 2, instances: int = 2) -> tuple[str, list[Path]]:
    """A small study (secondary capture, no pixel data): its UID and its files."""
    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.uid import ExplicitVRLittleEndian, SecondaryCaptureImageStorage, generate_uid

    study = generate_uid()
    folder.mkdir(parents=True, exist_ok=True)
    files = []
    for s in range(series):
        series_uid = generate_uid()
        for n in range(instances):
            meta = FileMetaDataset()
            meta.MediaStorageSOPClassUID = SecondaryCaptureImageStorage
            meta.MediaStorageSOPInstanceUID = sop = generate_uid()
            meta.TransferSyntaxUID = ExplicitVRLittleEndian
            ds = Dataset()
            ds.file_meta = meta
            ds.SOPClassUID, ds.SOPInstanceUID = SecondaryCaptureImageStorage, sop
            ds.StudyInstanceUID, ds.SeriesInstanceUID = study, series_uid
            ds.PatientID, ds.PatientName, ds.Modality = "BILLING-TEST", "Test^Patient", "OT"
            ds.SeriesNumber, ds.InstanceNumber = s + 1, n + 1
            path = folder / f"{sop}.dcm"
            ds.save_as(path, enforce_file_format=True)
            files.append(path)
    return study, files


if __name__ == "__main__":  # python -m tests.support.pacs FOLDER: a study to send by hand
    import sys

    made_uid, made = make_study(Path(sys.argv[1]), series=2, instances=3)
    sys.stdout.write(f"{made_uid}: {len(made)} files in {sys.argv[1]}\n")
