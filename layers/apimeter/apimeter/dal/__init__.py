"""Data access: one module per table. Only this package talks to DynamoDB."""
