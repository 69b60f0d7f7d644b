"""Test harness: an emulated AWS (moto server), an emulated Lambda runtime, and a Terraform driver."""

# The emulated account and region; here, not in harness.aws, so that the Lambda runtime can check
# policies (harness.iam_policy) without importing moto.
REGION = "us-east-1"
ACCOUNT_ID = "123456789012"

# The emulated Lambda runtime (lambda_runtime.py) ends a timed-out invocation with this exit status;
# Lambda's init phase (the function's imports) has this limit of its own.
TIMED_OUT = 124
INIT_SECONDS = 10

# A HandOff invocation about to meet a late answer from the Invoke API (harness/faults.py,
# InvokeAnswerLate) sees its long socket timeouts (905 s, past any Lambda function) end after this
# many seconds instead: time runs fast for it, as the state machine's waits are skipped.
READ_TIMEOUT_SECONDS = 5
