"""GET /invoices/{invoice_id}/pdf: an invoice as a PDF document (R18; docs/documents.md).

Its own function so that the drawing (``invoice_drawing`` with this directory's PDF writer and fonts)
loads in no other function; the route is ``billing.routes.get_invoice_pdf``, with every other route's
checks.
"""

from typing import Any

from billing import loading

with loading():  # the collector off while importing (billing.loading)
    from invoice_drawing import render

    from billing.http import handle, make_app
    from billing.observability import logger
    from billing.routes import document

    app = make_app(document)


@logger.inject_lambda_context(correlation_id_path="requestContext.requestId")
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    app.append_context(render=render)  # the route's drawing function (cleared after each request)
    return handle(app, event, context)
