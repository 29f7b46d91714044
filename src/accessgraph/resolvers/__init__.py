"""Use cases: plain async functions over (services, principal, input). They ask the policy,
change the models inside one transaction, write the audit log, and know nothing of HTTP."""
