"""Teaches localstripe 1.15.10 the few Stripe Billing parameters switchboard sends that it lacks,
so the subscription tests run against Stripe's current request shapes:

- `items[][price]` on subscriptions (localstripe knows only `plan`; plans and prices share ids);
- `payment_behavior=default_incomplete`: the first invoice is finalised and its PaymentIntent is
  opened without a payment method, waiting for the client to confirm it (localstripe knows only
  `allow_incomplete` and `error_if_incomplete`, which charge the customer's default card);
- `payment_settings[...]` on creation and `proration_behavior` on updates (accepted, ignored);
- `confirmation_secret` on invoices (API versions since 2025-03-31; localstripe has only
  `payment_intent`);
- `GET /v1/prices`: its plans, as Stripe lists prices.

Imported by localstripe_server.py before the server starts.
"""
import aiohttp.web
import localstripe.server as server
from localstripe.resources import Invoice, InvoiceItem, PaymentIntent, Subscription, store

_state = {"default_incomplete": False}


def _plan_items(items):
    if not items:
        return items
    for item in items:
        if "price" in item:
            item["plan"] = item.pop("price")
    return items


_original_init = Subscription.__init__


def _init(self, *args, items=None, payment_behavior="allow_incomplete",
          payment_settings=None, **kwargs):
    default_incomplete = payment_behavior == "default_incomplete"
    if default_incomplete:
        payment_behavior = "allow_incomplete"
    _state["default_incomplete"] = default_incomplete
    try:
        _original_init(self, *args, items=_plan_items(items),
                       payment_behavior=payment_behavior, **kwargs)
    finally:
        _state["default_incomplete"] = False


_original_create_invoice = Subscription._create_invoice


def _create_invoice(self):
    if not _state["default_incomplete"]:
        return _original_create_invoice(self)
    pending = [ii for ii in InvoiceItem._api_list_all(
        None, customer=self.customer, limit=99)._list if ii.invoice is None]
    invoice = Invoice(customer=self.customer, subscription=self.id,
                      items=pending + list(self.items._list),
                      date=self.current_period_start)
    invoice._finalize()
    if invoice.total <= 0:
        self.status = "active"
        return
    intent = PaymentIntent(amount=invoice.total, currency=invoice.currency,
                           customer=self.customer)
    invoice.payment_intent = intent.id
    intent.invoice = invoice.id


_original_update = Subscription._update


def _update(self, items=None, proration_behavior=None, **kwargs):
    return _original_update(self, items=_plan_items(items), **kwargs)


def _confirmation_secret(self):
    if not self.payment_intent:
        return None
    intent = PaymentIntent._api_retrieve(self.payment_intent)
    return {"client_secret": intent.client_secret, "type": "payment_intent"}


async def _list_prices(request):
    prices = [{
        "id": plan.id, "object": "price", "active": plan.active, "currency": plan.currency,
        "unit_amount": plan.amount, "product": plan.product, "type": "recurring",
        "recurring": {"interval": plan.interval, "interval_count": plan.interval_count},
        "metadata": plan.metadata, "created": plan.created,
    } for key, plan in store.items() if key.startswith("plan:") and plan.active]
    return aiohttp.web.json_response({"object": "list", "data": prices, "has_more": False,
                                      "url": "/v1/prices"})


Subscription.__init__ = _init
Subscription._create_invoice = _create_invoice
Subscription._update = _update
Invoice.confirmation_secret = property(_confirmation_secret)
server.app.router.add_get("/v1/prices", _list_prices)
