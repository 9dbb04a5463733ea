from aws_durable_execution_sdk_python import DurableContext, durable_execution

from lambda_tracer import Tracer
from lambda_tracer.durable import FACTORY

tracer = Tracer()


@tracer.capture_lambda_handler
@durable_execution(plugins=[FACTORY])
def handler(event, context: DurableContext):
    return context.step(lambda _: 42, name="answer")  # a "Step answer" subsegment
