"""A credentials handler: receives each new access key and hands it to the third party.

The rotator invokes it with {"username": ..., "secretName": ..., "metadata": ...} ("metadata" only
when set for the user). Raise on failure: the rotation then keeps the old key.
"""

import json
import os
import urllib.request

import boto3

secrets = boto3.client("secretsmanager")


def handler(event, context):
    username, secret_name = event["username"], event["secretName"]
    secret = json.loads(secrets.get_secret_value(SecretId=secret_name)["SecretString"])
    access_key_id, secret_access_key = secret["AccessKeyId"], secret["SecretAccessKey"]

    send_to_third_party(username, access_key_id, secret_access_key, event.get("metadata"))
    # Log the key id only; never the secret access key.
    print(
        json.dumps(
            {"message": "credentials handed off", "username": username, "access_key_id": access_key_id}
        )
    )


def send_to_third_party(username, access_key_id, secret_access_key, metadata):
    """Replace this with your third party's API, e.g. updating a CI project's environment variables."""
    url = os.environ.get("THIRD_PARTY_URL")
    if not url:
        return
    body = {
        "username": username,
        "AccessKeyId": access_key_id,
        "SecretAccessKey": secret_access_key,
        "metadata": metadata,
    }
    request = urllib.request.Request(
        url,
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        if response.status >= 300:
            raise RuntimeError(f"third party answered HTTP {response.status}")
