"""apimeter: serverless API usage analytics and cost platform."""

__version__ = "0.1.0"
