"""HTTP input and output models, one module per resource (as ``functions/<name>/``). Output models are
declared on routes, so the OpenAPI document is complete."""
