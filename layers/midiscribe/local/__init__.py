"""The local stack (``make run``): moto as S3/SQS/DynamoDB, built from template.yaml, the real
handlers behind a local API Gateway, and SQS pollers feeding the queues to them (``stack``)."""
