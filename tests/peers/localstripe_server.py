"""localstripe (a stateful fake Stripe) for the payment tests, bound to 127.0.0.1.

Usage: python localstripe_server.py PORT
Prints "ready" once it listens. Nothing is written to disk.
Fault switch: POST /_config/faults with form fields status=429|500 and count=N answers the next
N /v1/* requests with that status instead of handling them.
"""
import sys

import aiohttp.web
import localstripe.server as server
from localstripe.resources import Store

import localstripe_billing  # noqa: F401  (Stripe Billing's current request shapes)

Store.dump_to_disk = lambda self, *args, **kwargs: None

faults = {"status": 0, "count": 0}


@aiohttp.web.middleware
async def inject_faults(request, handler):
    if request.path.startswith("/v1/") and faults["count"] > 0:
        faults["count"] -= 1
        status = faults["status"]
        body = {"error": {"type": "api_error", "message": f"injected {status}"}}
        headers = {"Retry-After": "0"} if status == 429 else {}
        return aiohttp.web.json_response(body, status=status, headers=headers)
    return await handler(request)


async def set_faults(request):
    form = await request.post()
    faults["status"] = int(form["status"])
    faults["count"] = int(form["count"])
    return aiohttp.web.json_response(faults)


async def announce(_app):
    print("ready", flush=True)


server.app.middlewares.insert(0, inject_faults)
server.app.router.add_post("/_config/faults", set_faults)
server.app.on_startup.append(announce)
aiohttp.web.run_app(server.app, host="127.0.0.1", port=int(sys.argv[1]), print=None)
