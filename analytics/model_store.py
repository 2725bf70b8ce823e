"""Save and load fitted models as bytes, with skops (never pickle).

A stored model is a one-line JSON header (format, scikit-learn version, model class) followed by
the skops payload. Loading reads the header first and refuses a model saved under another
scikit-learn version before anything is deserialised: a model's internals change between
versions, so such a model must be fitted again. Only the types listed in ``TRUSTED_TYPES`` (plus
what skops trusts by default) may appear in the payload.
"""

from __future__ import annotations

import json

import sklearn
import skops.io as sio

from analytics.risk import LatePaymentModel

__all__ = ["TRUSTED_TYPES", "ModelStoreError", "ModelVersionError", "dumps", "loads"]

_MAGIC = b"invoice-lite-model\n"
_FORMAT = 1

TRUSTED_TYPES: tuple[str, ...] = (
    "analytics.risk.LatePaymentModel",
    "sklearn.calibration._CalibratedClassifier",
    "sklearn.calibration._SigmoidCalibration",
)


class ModelStoreError(ValueError):
    """The bytes are not a stored model, or hold types that are not trusted."""


class ModelVersionError(ModelStoreError):
    """The model was saved under another scikit-learn version."""


def dumps(model: LatePaymentModel) -> bytes:
    header = {
        "format": _FORMAT,
        "sklearn_version": sklearn.__version__,
        "model": type(model).__qualname__,
    }
    payload = bytes(sio.dumps(model))
    return _MAGIC + json.dumps(header, sort_keys=True).encode() + b"\n" + payload


def loads(data: bytes) -> LatePaymentModel:
    if not data.startswith(_MAGIC):
        raise ModelStoreError("not a stored model")
    line, _, payload = data[len(_MAGIC) :].partition(b"\n")
    try:
        header = json.loads(line)
    except ValueError as exc:
        raise ModelStoreError("the stored model's header is not valid JSON") from exc
    if header.get("format") != _FORMAT:
        raise ModelStoreError(f"unknown stored model format {header.get('format')!r}")
    saved = header.get("sklearn_version")
    if saved != sklearn.__version__:
        raise ModelVersionError(
            f"model saved with scikit-learn {saved}, this is {sklearn.__version__}: fit it again"
        )
    untrusted = set(sio.get_untrusted_types(data=payload)) - set(TRUSTED_TYPES)
    if untrusted:
        raise ModelStoreError(f"stored model holds untrusted types: {sorted(untrusted)}")
    model = sio.loads(payload, trusted=list(TRUSTED_TYPES))
    if not isinstance(model, LatePaymentModel):
        raise ModelStoreError(f"stored object is a {type(model).__name__}, not a model")
    return model
