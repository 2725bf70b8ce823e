from datetime import date
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from portal.models import ExchangeRate
from portal.services import rates
from portal.services.errors import InvalidInput

ECB = """Date,USD,JPY,GBP,
2026-11-24,1.0512,162.34,0.8321,
2026-11-23,1.0499,N/A,0.8330,
"""


def test_the_cli_imports_an_ecb_file_and_rates_convert(app, db, tmp_path):
    path = tmp_path / "eurofxref-hist.csv"
    path.write_text(ECB)
    result = app.test_cli_runner().invoke(args=["rates", "import", str(path)])
    assert result.exit_code == 0, result.output
    assert "Imported 5 rates for 3 currencies over 2 days." in result.output
    # One dollar in euros on the 24th, and in pounds: cross rate through the euro.
    assert rates.rate_to_base("USD", "EUR", date(2026, 11, 24)) == Decimal("0.9512937595")
    assert rates.rate_to_base("USD", "GBP", date(2026, 11, 25)) == Decimal("0.7915715373")
    # Importing again replaces, never duplicates.
    assert app.test_cli_runner().invoke(args=["rates", "import", str(path)]).exit_code == 0
    assert db.session.scalar(select(func.count(ExchangeRate.id))) == 5


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "The file is empty."),
        ("Day,USD\n", "The first column must be 'Date' (the ECB's CSV layout)."),
        ("Date,XYZ\n2026-01-01,1\n", "Column 'XYZ' is not an ISO 4217 currency code."),
        ("Date,USD\n01/02/2026,1\n", "Row 2: '01/02/2026' is not a date like 2026-11-24."),
        ("Date,USD\n2026-01-01,abc\n", "Row 2, USD: 'abc' is not a number."),
        ("Date,USD\n2026-01-01,0\n", "Row 2, USD: a rate must be above 0."),
    ],
)
def test_a_bad_file_is_named_and_nothing_is_stored(app, db, tmp_path, text, message):
    with pytest.raises(InvalidInput) as info:
        rates.import_ecb_csv(text)
    assert info.value.errors == {"file": message}
    path = tmp_path / "bad.csv"
    path.write_text(text)
    result = app.test_cli_runner().invoke(args=["rates", "import", str(path)])
    assert result.exit_code == 1
    assert message in result.output
    assert db.session.scalar(select(func.count(ExchangeRate.id))) == 0
