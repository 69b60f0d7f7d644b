"""Credentials handler: hands each new access key to the third party.

The rotator invokes it with {"username": ..., "secretName": ..., "metadata": ...} ("metadata" only
when set for the user). Raise when the third party did not take the key: the rotation then deletes
the new key and the third party keeps the old one. Never log or return the secret access key.
"""

import json
import os
import urllib.request

import boto3

secrets = boto3.client("secretsmanager")


def handler(event, context):
    secret = json.loads(secrets.get_secret_value(SecretId=event["secretName"])["SecretString"])
    send_to_third_party(
        username=event["username"],
        access_key_id=secret["AccessKeyId"],
        secret_access_key=secret["SecretAccessKey"],
        metadata=event.get("metadata"),
    )
    print(
        json.dumps(
            {
                "message": "credentials handed off",
                "username": event["username"],
                "access_key_id": secret["AccessKeyId"],
            }
        )
    )


def send_to_third_party(username, access_key_id, secret_access_key, metadata):
    """Replace this function with your third party's API call.

    Here: POST the key as JSON to THIRD_PARTY_URL, a placeholder endpoint. A CircleCI version would
    parse `metadata` ("ci=circleci;context=prod") and update that context's environment variables.
    """
    request = urllib.request.Request(
        os.environ["THIRD_PARTY_URL"],
        data=json.dumps(
            {
                "username": username,
                "AccessKeyId": access_key_id,
                "SecretAccessKey": secret_access_key,
                "metadata": metadata,
            }
        ).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        if response.status >= 300:
            raise RuntimeError(f"third party answered HTTP {response.status}")
