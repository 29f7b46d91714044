"""accessgraph: a self-hostable GraphQL API for who may do what in a software organization."""

__version__ = "0.1.0"
