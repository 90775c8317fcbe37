"""R19: every input is bounded, so that every write fits DynamoDB's limits (400 KB per item, 100
items and 4 MB per transaction, 2 KB partition keys) and every amount and sum stays exact. The
table of docs/limits.md is these numbers: ``tests/unit/test_limits.py`` checks that the two agree, and
``tests/integration/test_bounds.py`` that the largest job they allow is billed, finalized and still fits.

Why these sizes: a job item holds its lines (each at most ~1.4 KB: a 64-character code and a
200-character description of up to 4 bytes per character, and its tax code of up to 20 characters and
rate, ~30 B; not the code's name or account), its deposits (~160 B each, with their account), its
pending records (~60 B each) and, per tax rate, its deposits' and shipments' tax (~0.5 KB each) and
each tax code's name and account (~0.5 KB a code): 200 lines on 10 rates, 200 deposits and 50 pending
records come to about 290 KB (measured). A final invoice lists every line and every deposit (~300 KB
at most) and, with the pending records it cancels, stays far under a transaction's 4 MB and 100 items.
"""

from decimal import Decimal

ID_MAX = 64
ID_PATTERN = r"^[A-Za-z0-9_.\-]+$"  # ids in bodies and in paths: letters, digits, - _ .
CUSTOMER_NAME_MAX = 200
ITEM_CODE_MAX = 64
LINE_DESCRIPTION_MAX = 200
TEXT_MAX = 500  # titles, item descriptions
LONG_TEXT_MAX = 4000  # invoice and record descriptions
ACCOUNT_CODE_MAX = 20
ACCOUNT_NAME_MAX = 100
TAX_CODE_MAX = 20  # characters of a tax code (R16)
TAX_CODES_MAX = 50  # tax codes in the settings
TAX_RATES_PER_JOB = 10  # distinct tax rates (code and rate captured) on one job's lines
COMPANY_NAME_MAX = 200
ADDRESS_MAX = 1000
TAX_ID_MAX = 64
IDEMPOTENCY_KEY_MAX = 255
NEXT_TOKEN_MAX = 2048

LINES_PER_JOB = 200
LINES_PER_SHIPMENT = 200
DEPOSITS_PER_JOB = 200  # deposit invoices a job can have (each is kept in the job item until the final)
PENDING_PER_JOB = 50  # a final invoice cancels them all in its one transaction (100-item limit)
CHANGE_ORDER_LINES = 100  # lines one change order may name (its item keeps them before and after)
TOKENS_KEPT = 20  # R11: the tokens of the latest voided finals' requests a job keeps (a late resend: that final)

# Magnitudes, in major units: every amount (line, job total, record, invoice) is below MAX_AMOUNT (at
# most 12 integer digits and 3 decimals: 15 significant digits); quantity x unit price is computed
# exactly (``money``) before it is checked against it.
MAX_AMOUNT = Decimal(10) ** 12
MAX_QUANTITY = Decimal(10) ** 9
MAX_UNIT_PRICE = Decimal(10) ** 12

JSON_DEPTH_MAX = 5  # the contract's bodies nest 3 deep ({"lines": [{...}]})
JSON_NUMBER_MAX = 40  # characters of a JSON number (the contract's numbers: limit, version)
BODY_CHARS_MAX = 1_048_576  # the largest job registration, every character escaped, is ~700,000
