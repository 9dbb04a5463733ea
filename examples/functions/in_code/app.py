"""The same kind of function, traced in code with the Powertools-compatible API.

It works with the layer's exec wrapper set or not: the handler is already traced, so the wrapper
does not add a second ``## handler`` subsegment.
"""

from lambda_tracer import Tracer

tracer = Tracer()  # service name from POWERTOOLS_SERVICE_NAME

CREDIT_LIMIT = 1000


@tracer.capture_method
def price(items):
    return sum(item["price"] * item["qty"] for item in items)


@tracer.capture_method
def reserve(order_id, total):
    tracer.put_annotation(key="Total", value=total)
    if total > CREDIT_LIMIT:
        raise RuntimeError(f"credit limit exceeded: {total} > {CREDIT_LIMIT}")
    return {"order_id": order_id, "reserved": total}


@tracer.capture_lambda_handler
def handler(event, context):
    tracer.put_annotation(key="OrderId", value=event["order_id"])
    tracer.put_metadata(key="items", value=event.get("items", []))
    total = price(event.get("items", []))
    return reserve(event["order_id"], total)
