from opentelemetry import trace

from lambda_tracer import Tracer

tracer = trace.get_tracer(__name__)
xray = Tracer()  # only for capture_method: zero-code mode traces the handler itself


def handler(event, context):
    with tracer.start_as_current_span("load order", attributes={"order_id": event["id"]}) as span:
        span.set_attribute("aws.xray.annotations", ["order_id"])  # indexed: annotation.order_id = "o-1"
        return load(event["id"])


@xray.capture_method  # its subsegment nests inside "load order"
def load(order_id):
    return {"order_id": order_id, "total": 12}
