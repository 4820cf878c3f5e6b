"""HTTP API plumbing shared by every function: the resolver factory, the error envelope, models."""
