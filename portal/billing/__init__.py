"""Pure billing rules: money, tax and totals, payment terms, numbering, invoice status.

Nothing here touches Flask, the database or the network, so every rule can be tested with plain
values and reused by the web layer, the jobs and the e-invoice checker alike.
"""
