"""Who is calling (backend, tokens, passwords) and what they may do (policy, directives)."""
