"""The product catalog of the purchase guide: what can be sold, in which units, how priced.

Units and formulas: R-EXAM-1 (exam lots), R-AI-1 (AI packs), R-AI-4 (AI licences,
offline only), R-LIC-2/3 (licences), R-SVC-2/3 (services).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Family(StrEnum):
    EXAM = "EXAM"
    AI_PACK = "AI_PACK"
    AI_LICENCE = "AI_LICENCE"
    LICENCE = "LICENCE"
    SERVICE = "SERVICE"


class Feature(StrEnum):
    """R-LIC-2/3: the base suite and the thirteen optional features."""

    BASE_SUITE = "BASE_SUITE"
    THREE_D_RECONSTRUCTION = "THREE_D_RECONSTRUCTION"
    MPR = "MPR"
    FUSION = "FUSION"
    REMOTE_DIAGNOSIS = "REMOTE_DIAGNOSIS"
    REMOTE_CONSULTATION = "REMOTE_CONSULTATION"
    REMOTE_ROUNDS = "REMOTE_ROUNDS"
    REMOTE_TEACHING = "REMOTE_TEACHING"
    DATA_STATISTICS = "DATA_STATISTICS"
    IMAGE_QUALITY_CONTROL = "IMAGE_QUALITY_CONTROL"
    LOG_AUDIT = "LOG_AUDIT"
    MOBILE = "MOBILE"
    API_ACCESS = "API_ACCESS"
    GLAUCOMA_AI_SERVICE_PACK = "GLAUCOMA_AI_SERVICE_PACK"


# R-LIC-2: what the indivisible base suite contains (shown, never sold apart).
BASE_SUITE_MODULES = (
    "EXAM_MANAGEMENT",
    "REPORT_MANAGEMENT",
    "BASIC_IMAGE_VIEWING",
    "INSTITUTION_MANAGEMENT",
    "USER_MANAGEMENT",
    "CLOUD_FILM_CONFIGURATION",
    "NOTIFICATION_MANAGEMENT",
    "PATIENT_IMAGING_ARCHIVE",
)


class AiProduct(StrEnum):
    GLAUCOMA = "GLAUCOMA"
    PNEUMONIA = "PNEUMONIA"
    COLORECTAL = "COLORECTAL"


class ServiceKind(StrEnum):
    DELIVERY = "DELIVERY"
    MAINTENANCE = "MAINTENANCE"
    CUSTOM_DEV = "CUSTOM_DEV"


class ServiceVariant(StrEnum):
    LOCAL = "LOCAL"  # delivery on site / local inspection
    REMOTE = "REMOTE"  # remote delivery / remote maintenance


@dataclass(frozen=True)
class Product:
    code: str
    family: Family
    unit: int  # quantities are whole multiples of this (R-EXAM-1: 10,000; R-AI-1: 1,000)
    per_year: bool  # price × years (ANNUAL exam lots, maintenance)
    online: bool  # False: only an operator records it from an offline purchase (R-AI-4)
    per_institution: bool
    feature: Feature | None = None
    ai_product: AiProduct | None = None
    service: ServiceKind | None = None


def _products() -> dict[str, Product]:
    items = [
        Product("EXAM_VOLUME", Family.EXAM, 10_000, False, True, False),
        Product("EXAM_ANNUAL", Family.EXAM, 10_000, True, True, False),
        Product(
            "AI_PACK_GLAUCOMA",
            Family.AI_PACK,
            1_000,
            False,
            True,
            False,
            ai_product=AiProduct.GLAUCOMA,
        ),
        *(
            Product(f"AI_LICENCE_{p.value}", Family.AI_LICENCE, 1, False, False, True, ai_product=p)
            for p in AiProduct
        ),
        *(
            Product(f"LICENCE_{f.value}", Family.LICENCE, 1, False, True, True, feature=f)
            for f in Feature
        ),
        Product(
            "SERVICE_DELIVERY", Family.SERVICE, 1, False, True, True, service=ServiceKind.DELIVERY
        ),
        Product(
            "SERVICE_MAINTENANCE",
            Family.SERVICE,
            1,
            True,
            True,
            True,
            service=ServiceKind.MAINTENANCE,
        ),
        Product(
            "SERVICE_CUSTOM_DEV",
            Family.SERVICE,
            1,
            False,
            True,
            True,
            service=ServiceKind.CUSTOM_DEV,
        ),
    ]
    return {p.code: p for p in items}


PRODUCTS: dict[str, Product] = _products()


def licence_product(feature: Feature) -> str:
    return f"LICENCE_{feature.value}"
