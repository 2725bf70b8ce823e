"""Reading EN 16931 e-invoices (UBL 2.1 and UN/CEFACT CII) and checking their stated totals
against the billing engine's own computation."""
