"""AWS list prices the cost model uses: us-east-1, on demand, arm64, without free tiers.

Source: the pricing pages of each service (aws.amazon.com/dynamodb/pricing/on-demand/,
/lambda/pricing/, /api-gateway/pricing/, /step-functions/pricing/, /sqs/pricing/, /sns/pricing/,
/eventbridge/pricing/), as listed on 2026-11-01. DynamoDB's on-demand throughput prices are those
of the November 2024 reduction. Change them here and nowhere else.
"""

DYNAMODB_WRITE_UNIT = 0.625 / 1e6  # USD per write request unit (standard table class)
DYNAMODB_READ_UNIT = 0.125 / 1e6  # USD per read request unit
DYNAMODB_STORAGE_GB_MONTH = 0.25  # USD per GB-month (first 25 GB free, not counted here)
DYNAMODB_ITEM_OVERHEAD_BYTES = 100  # storage per item and per index entry, on top of its size
LAMBDA_REQUEST = 0.20 / 1e6  # USD per invocation
LAMBDA_GB_SECOND_ARM64 = 0.0000133334  # USD per GB-second, arm64, first tier
HTTP_API_REQUEST = 1.00 / 1e6  # USD per request of up to 512 KB, first 300 million a month
HTTP_API_BLOCK_BYTES = 512 * 1024
STEP_FUNCTIONS_STANDARD_TRANSITION = 0.025 / 1000  # USD per state transition
STEP_FUNCTIONS_EXPRESS_REQUEST = 1.00 / 1e6  # USD per express execution (plus its duration, negligible here)
SQS_REQUEST = 0.40 / 1e6
SNS_PUBLISH = 0.50 / 1e6
EVENTBRIDGE_EVENT = 1.00 / 1e6
GB = 1024**3  # AWS bills storage by the binary gigabyte
