"""Service metadata, filled in when paved scaffolded this repository."""

SERVICE_NAME = {{ name | py }}
SERVICE_DESCRIPTION = {{ description | py }}
__version__ = "0.1.0"
