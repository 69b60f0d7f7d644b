"""Test harness: an emulated AWS (moto server), an emulated Lambda runtime, and a Terraform driver."""
