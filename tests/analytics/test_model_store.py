import re

import numpy as np
import pandas as pd
import pytest
import sklearn

from analytics import model_store
from analytics.model_store import ModelStoreError, ModelVersionError
from analytics.risk import FEATURES, LatePaymentModel


def _fitted() -> tuple[LatePaymentModel, pd.DataFrame]:
    rng = np.random.default_rng(0)
    features = pd.DataFrame(rng.normal(size=(200, len(FEATURES))), columns=list(FEATURES))
    late = features["expected_late"] + rng.normal(0, 1, 200) > 0
    return LatePaymentModel(cv=3).fit(features, late), features


def test_round_trip_gives_the_same_predictions() -> None:
    model, features = _fitted()
    data = model_store.dumps(model)
    assert b"sklearn_version" in data.split(b"\n")[1]
    loaded = model_store.loads(data)
    np.testing.assert_array_equal(loaded.predict_proba(features), model.predict_proba(features))


def test_another_scikit_learn_version_is_refused() -> None:
    model, _ = _fitted()
    data = model_store.dumps(model).replace(
        f'"sklearn_version": "{sklearn.__version__}"'.encode(), b'"sklearn_version": "0.24.2"'
    )
    message = f"model saved with scikit-learn 0.24.2, this is {sklearn.__version__}: fit it again"
    with pytest.raises(ModelVersionError, match=re.escape(message)):
        model_store.loads(data)


def test_other_bytes_are_refused() -> None:
    with pytest.raises(ModelStoreError, match="not a stored model"):
        model_store.loads(b"\x80\x04pickle")
