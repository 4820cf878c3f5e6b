"""The offline stack: template.yaml's resources on moto, and its functions run in-process.

A development tool, never the production path: it reads the same template, creates the same tables,
turns HTTP requests into the same API Gateway events, delivers the events table's stream in
Lambda's batch format with its retry rules, and expires items by TTL as DynamoDB does.
"""
